"""The code location: `dagster dev -m orchestration.definitions` (or `lakehouse ui`)."""

from dagster import Definitions

from orchestration.bronze import definitions as bronze
from orchestration.operations import definitions as operations
from orchestration.transform import definitions as transform

defs = Definitions.merge(bronze.defs, transform.defs, operations.defs)
