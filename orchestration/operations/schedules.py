from dagster import DefaultScheduleStatus, ScheduleDefinition

from orchestration.operations.jobs import build_everything, maintain_tables

daily_build = ScheduleDefinition(
    name="daily_build", job=build_everything, cron_schedule="0 2 * * *", default_status=DefaultScheduleStatus.RUNNING
)

nightly_maintenance = ScheduleDefinition(
    name="nightly_maintenance",
    job=maintain_tables,
    cron_schedule="0 4 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
)
