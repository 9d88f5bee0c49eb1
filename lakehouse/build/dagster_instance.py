"""The local Dagster instance, and what the CLI tells it.

Ingestions and dbt builds started from the CLI are recorded in the instance as materialisations
(runless events), so Dagster and the CLI agree on what is up to date: the automation neither waits
for assets it thinks are missing nor rebuilds what the CLI has just built.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ingestion.config import PROJECT_ROOT
from lakehouse.settings import settings
from ingestion.ledger import Batch
from ingestion.sources import Source
from ingestion.batch_status import LANDED

log = logging.getLogger(__name__)


def dagster_home() -> Path:
    """The local Dagster instance (runs, schedules, sensor cursors) lives in the data home."""
    home = settings().home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    return home


@contextmanager
def _best_effort() -> Iterator[None]:
    """Recording is bookkeeping: it never fails the ingestion or the build it follows."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 (any storage problem of the instance)
        log.warning("could not record in the Dagster instance at %s: %s", settings().home / "dagster", error)


def _instance():
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(dagster_home()))


def record_ingestion(source: Source, batches: Iterable[Batch]) -> None:
    """A materialisation of `bronze/<source>` when batches landed rows (or quarantined some)."""
    from dagster import AssetKey, AssetMaterialization

    landed = [b for b in batches if b.status in LANDED]
    if not landed:
        return
    metadata = {
        "rows_ingested": sum(b.rows_good or 0 for b in landed),
        "rows_quarantined": sum(b.rows_bad or 0 for b in landed),
        "batch_ids": ", ".join(b.batch_id for b in landed),
        "recorded_by": "lakehouse CLI",
    }
    with _best_effort():
        _instance().report_runless_asset_event(
            AssetMaterialization(asset_key=AssetKey(["bronze", source.name]), metadata=metadata)
        )


def record_dbt_build(target_dir: Path) -> int:
    """A materialisation of every seed and model the last dbt command built (from its artifacts);
    returns how many were recorded."""
    from dagster import AssetMaterialization
    from dagster_dbt import DagsterDbtTranslator

    results_path, manifest_path = target_dir / "run_results.json", target_dir / "manifest.json"
    if not (results_path.exists() and manifest_path.exists()):
        return 0
    nodes = json.loads(manifest_path.read_text())["nodes"]
    translator = DagsterDbtTranslator()  # the asset keys the code location's translator keeps (it changes groups only)
    recorded = 0
    with _best_effort():
        instance = _instance()
        for result in json.loads(results_path.read_text())["results"]:
            node = nodes.get(result["unique_id"])
            if not node or node["resource_type"] not in ("model", "seed") or result["status"] != "success":
                continue
            instance.report_runless_asset_event(
                AssetMaterialization(
                    asset_key=translator.get_asset_key(node),
                    metadata={"recorded_by": "lakehouse CLI", "dbt_execution_time_s": result["execution_time"]},
                )
            )
            recorded += 1
    return recorded


def latest_finished_runs() -> dict[str, object]:
    """Each Dagster job's latest finished run (succeeded or failed), newest first; empty when the
    instance cannot be read."""
    from dagster import DagsterRunStatus, RunsFilter

    latest: dict[str, object] = {}
    with _best_effort():
        finished = RunsFilter(statuses=[DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE])
        for run in _instance().get_runs(finished, limit=200):  # newest first
            latest.setdefault(run.job_name, run)
    return latest


def fail_abandoned_runs(wait_s: float = 0) -> list[str]:
    """Runs the instance still records as in progress whose processes are all gone (`lakehouse ui`
    stopped or killed during them) are marked failed and give back their pool slots. Left as they
    were, they would hold the `dbt` pool for ever: every later build, in the UI or in-process,
    would wait behind them. `wait_s`: how long their processes may take to end (a run worker
    outlives the stopped UI for a few seconds). Returns their run ids."""
    import psutil
    from dagster import DagsterEventType, DagsterRunStatus, RunsFilter

    in_progress = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    deadline = time.monotonic() + wait_s  # one wait for all the runs, not one per run
    abandoned: list[str] = []
    with _best_effort():
        instance = _instance()
        for run in instance.get_runs(RunsFilter(statuses=in_progress)):
            pids = {
                int(metadata["pid"].value)
                for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT)
                if entry.dagster_event is not None
                and entry.dagster_event.engine_event_data is not None
                and "pid" in (metadata := entry.dagster_event.engine_event_data.metadata)
            }
            alive = [process for pid in pids if (process := _process(pid))]
            if alive and psutil.wait_procs(alive, timeout=max(0.0, deadline - time.monotonic()))[1]:
                continue  # still running: not abandoned
            instance.report_run_failed(run, "its processes ended before it did (the UI was stopped during the run)")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            abandoned.append(run.run_id)
    if abandoned:
        log.warning("marked %d abandoned Dagster run(s) as failed: %s", len(abandoned), ", ".join(abandoned))
    return abandoned


def _process(pid: int):
    import psutil

    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None
