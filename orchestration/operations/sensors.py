"""The alerts sensor: every 30 seconds, what is wrong now is compared with the open alerts
(`lakehouse.operations.alerts`): new conditions are raised, cleared ones resolved, each POSTed once to the
webhook. It requests no run."""

from dagster import DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor

from ingestion.errors import first_line, service_lost
from lakehouse.operations.alerts import check
from orchestration.bronze.resources import SparkResource

INTERVAL_S = 30
"""An alert is raised within this (plus one check's seconds) of its cause."""


@sensor(
    name="alerts",
    minimum_interval_seconds=INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
    description="Raises and resolves the lakehouse's alerts (ops.alerts, the webhook): failed tests and runs, "
    "stale sources, bad batches, slow builds.",
)
def alerts(context: SensorEvaluationContext, spark: SparkResource):
    try:
        checked = check(spark.session())
    except service_lost() as error:  # a restart: the next tick opens a new session
        return SkipReason(f"the lakehouse did not answer ({first_line(error)}); checking again next tick")
    for alert in checked.raised:
        context.log.warning(f"alert raised: {alert.message}")
    for alert in checked.resolved:
        context.log.info(f"alert resolved: {alert.message}")
    return SkipReason(
        f"{len(checked.raised)} raised, {len(checked.resolved)} resolved, {len(checked.still_open)} still open"
    )
