from dagster import Definitions

from orchestration.operations.jobs import build_everything, maintain_tables, rollback_and_replay
from orchestration.operations.schedules import daily_build, nightly_maintenance
from orchestration.operations.sensors import alerts

defs = Definitions(
    jobs=[build_everything, rollback_and_replay, maintain_tables],
    schedules=[daily_build, nightly_maintenance],
    sensors=[alerts],
)
