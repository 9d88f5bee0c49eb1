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
    _check(_run(args, own_session), args)


def _run(args: tuple[str, ...], own_session: bool) -> int:
    argv = [*args, "--target", settings().dbt_target] if "--target" not in args else list(args)
    print(f"$ dbt {' '.join(argv)}", flush=True)
    result = subprocess.run([dbt_executable(), *argv], cwd=PROJECT_ROOT, start_new_session=own_session)
    if args and args[0] in BUILDING_COMMANDS:
        from lakehouse.dagster_instance import record_dbt_build

        record_dbt_build(target_dir())
    return result.returncode


def _check(returncode: int, args: tuple[str, ...]) -> None:
    if returncode != 0:
        raise LakehouseError(
            f"`dbt {' '.join(args)}` failed (exit {returncode})",
            hint=f"see the output above and {PROJECT_ROOT / 'logs' / 'dbt.log'}",
        )


# dbt's exit codes of a build that ran to its end: 0, or 1 when a node failed (the rest skipped).
COMPLETED = (0, 1)


def build_what_changed(everything: bool = False, own_session: bool = False) -> None:
    """`dbt build` of what new batches, project changes and last time's failures reach (see
    `lakehouse.changes`); nothing at all when there are none. Everything the first time."""
    from ingestion.spark import connect
    from lakehouse.changes import plan_build, record_build

    plan = plan_build(connect(), everything=everything)
    print(f"dbt build: {plan.why}", flush=True)
    if plan.nothing_to_do:
        return
    args = ("build", *plan.dbt_args())
    returncode = _run(args, own_session)
    if returncode in COMPLETED:
        record_build(plan, target_dir())
    _check(returncode, args)
