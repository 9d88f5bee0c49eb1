"""The code location: `dagster dev -m orchestration.definitions` (or `lakehouse ui`)."""

from dagster import Definitions, in_process_executor

from orchestration.bronze import definitions as bronze
from orchestration.operations import definitions as operations
from orchestration.serving import definitions as serving
from orchestration.transform import definitions as transform

defs = Definitions.merge(
    bronze.defs,
    transform.defs,
    operations.defs,
    serving.defs,
    # One process per run: a step in a process of its own would load the code location again.
    Definitions(executor=in_process_executor),
)
