"""The dbt CLI of this environment, run in the project root with the configured target."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from ingestion.config import PROJECT_ROOT, settings
from ingestion.errors import LakehouseError


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's virtualenv), else the one on PATH."""
    return shutil.which("dbt", path=os.path.dirname(sys.executable)) or shutil.which("dbt") or "dbt"


def run_dbt(*args: str) -> None:
    """`dbt <args> --target <LAKEHOUSE_DBT_TARGET>`; a clear error if dbt fails."""
    argv = [*args, "--target", settings().dbt_target] if "--target" not in args else list(args)
    print(f"$ dbt {' '.join(argv)}", flush=True)
    result = subprocess.run([dbt_executable(), *argv], cwd=PROJECT_ROOT)
    if result.returncode != 0:
        raise LakehouseError(
            f"`dbt {' '.join(argv)}` failed (exit {result.returncode})",
            hint=f"see the output above and {PROJECT_ROOT / 'logs' / 'dbt.log'}",
        )
