from dagster import DefaultScheduleStatus, ScheduleDefinition

from orchestration.operations.jobs import build_everything

daily_build = ScheduleDefinition(
    name="daily_build", job=build_everything, cron_schedule="0 2 * * *", default_status=DefaultScheduleStatus.RUNNING
)
