"""The code location: `dagster dev -m orchestration.definitions` (or `lakehouse ui`)."""

from dagster import Definitions

from orchestration import automation, bronze, operations, transform
from orchestration.resources import resources

defs = Definitions.merge(
    bronze.defs,
    transform.defs,
    automation.defs,
    operations.defs,
    Definitions(resources=resources()),
)
