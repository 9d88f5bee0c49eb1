from dagster import Definitions

from orchestration.operations.jobs import build_everything, rollback_and_replay
from orchestration.operations.schedules import daily_build

defs = Definitions(jobs=[build_everything, rollback_and_replay], schedules=[daily_build])
