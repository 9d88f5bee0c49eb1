"""The dbt CLI of this environment, run in the project root with the configured target."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ingestion.config import PROJECT_ROOT, settings
from ingestion.errors import LakehouseError


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's virtualenv), else the one on PATH."""
    return shutil.which("dbt", path=os.path.dirname(sys.executable)) or shutil.which("dbt") or "dbt"


BUILDING_COMMANDS = ("build", "run", "seed")


def target_dir() -> Path:
    """Where dbt writes its artifacts (DBT_TARGET_PATH, else `target/` in the project)."""
    return Path(os.environ.get("DBT_TARGET_PATH") or PROJECT_ROOT / "target")


def run_dbt(*args: str, own_session: bool = False) -> None:
    """`dbt <args> --target <LAKEHOUSE_DBT_TARGET>`; a clear error if dbt fails. What a building
    command built is recorded in the Dagster instance. `own_session`: Ctrl-C in the terminal does
    not reach dbt (the caller stops after it)."""
    argv = [*args, "--target", settings().dbt_target] if "--target" not in args else list(args)
    print(f"$ dbt {' '.join(argv)}", flush=True)
    result = subprocess.run([dbt_executable(), *argv], cwd=PROJECT_ROOT, start_new_session=own_session)
    if args and args[0] in BUILDING_COMMANDS:
        from lakehouse.dagster_instance import record_dbt_build

        record_dbt_build(target_dir())
    if result.returncode != 0:
        raise LakehouseError(
            f"`dbt {' '.join(argv)}` failed (exit {result.returncode})",
            hint=f"see the output above and {PROJECT_ROOT / 'logs' / 'dbt.log'}",
        )
