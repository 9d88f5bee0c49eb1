"""The dbt CLI of this environment, run in the project root with the configured target."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ingestion.config import PROJECT_ROOT
from lakehouse.settings import settings
from ingestion.errors import LakehouseError


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's virtualenv), else the one on PATH."""
    return shutil.which("dbt", path=os.path.dirname(sys.executable)) or shutil.which("dbt") or "dbt"


BUILDING_COMMANDS = ("build", "run", "seed")


def target_dir() -> Path:
    """Where dbt writes its artifacts (DBT_TARGET_PATH, else `target/` in the project)."""
    return Path(os.environ.get("DBT_TARGET_PATH") or PROJECT_ROOT / "target")


def run_dbt(*args: str) -> None:
    """`dbt <args> --target <LAKEHOUSE_DBT_TARGET>`; a clear error if dbt fails. What a building
    command built is recorded in the Dagster instance."""
    _check(_run(args), args)


def _run(args: tuple[str, ...]) -> int:
    argv = [*args, "--target", settings().dbt_target] if "--target" not in args else list(args)
    print(f"$ dbt {' '.join(argv)}", flush=True)
    result = subprocess.run([dbt_executable(), *argv], cwd=PROJECT_ROOT)
    _record_if_building(args)
    return result.returncode


def _record_if_building(args: tuple[str, ...]) -> None:
    """What a building command built goes into the Dagster instance's records; its timings and test
    results, and a `dbt test`'s, into `ops` (where alerts and the operations page read them)."""
    if args and args[0] in (*BUILDING_COMMANDS, "test"):
        from ingestion.spark import connect
        from lakehouse.operations.records import record_dbt_run

        record_dbt_run(connect(), target_dir(), via="lakehouse CLI")
    if args and args[0] in BUILDING_COMMANDS:
        from lakehouse.build.dagster_instance import record_dbt_build

        record_dbt_build(target_dir())


def _check(returncode: int, args: tuple[str, ...]) -> None:
    if returncode != 0:
        raise LakehouseError(
            f"`dbt {' '.join(args)}` failed (exit {returncode})",
            hint=f"see the output above and {PROJECT_ROOT / 'logs' / 'dbt.log'}",
        )


# dbt's exit codes of a build that ran to its end: 0, or 1 when a node failed (the rest skipped).
COMPLETED = (0, 1)


class WarmDbt:
    """dbt in this process (its programmatic runner), the project parsed once, and again only when
    it changed: what `lakehouse run --follow` builds with round after round, instead of starting
    dbt and parsing the project for every round."""

    def __init__(self) -> None:
        self._manifest = None
        self._project: str | None = None

    def run(self, args: tuple[str, ...]) -> int:
        """dbt's exit code: 0, 1 when a node failed, 2 when dbt itself failed."""
        from dbt.cli.main import dbtRunner

        from lakehouse.build.changes import project_fingerprint

        where = ["--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT)]
        argv = [*args, "--target", settings().dbt_target]
        project = project_fingerprint()
        if self._manifest is None or project != self._project:
            parsed = dbtRunner().invoke(["parse", "--quiet", *where, "--target", settings().dbt_target])
            if not parsed.success:
                return 2
            self._manifest, self._project = parsed.result, project
        print(f"$ dbt {' '.join(argv)}", flush=True)
        result = dbtRunner(manifest=self._manifest).invoke([*argv, *where])
        _record_if_building(args)
        return 0 if result.success else 2 if result.exception is not None else 1


def build_what_changed(everything: bool = False, dbt: WarmDbt | None = None) -> None:
    """`dbt build` of what new batches, project changes and last time's failures reach (see
    `lakehouse.build.changes`); nothing at all when there are none. Everything the first time.
    `dbt`: run in this process, as kept from one build to the next."""
    from ingestion.spark import connect
    from lakehouse.build.changes import plan_build, record_build

    plan = plan_build(connect(), everything=everything)
    print(f"dbt build: {plan.why}", flush=True)
    if plan.nothing_to_do:
        return
    args = ("build", *plan.dbt_args())
    returncode = dbt.run(args) if dbt else _run(args)
    if returncode in COMPLETED:
        record_build(plan, target_dir())
    _check(returncode, args)
