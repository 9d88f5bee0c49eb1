"""What a dbt build has to redo since the last one, so that a build with no new data does no work.

Four things make a node out of date:
- its relation is missing from the warehouse (a fresh warehouse, another mode's, a dropped table):
  the build plan belongs to the warehouse it builds, whatever the last build's record says;
- a bronze source it reads moved in the batch ledger (a batch committed, quarantined, rolled back):
  the ledger, not the freshness of `_ingested_at`, because a rollback makes a source older;
- its model, test, macro or seed changed (dbt's `state:modified+` against the last build's manifest);
- it failed, or was skipped, in the last build (dbt's `result:` selectors).

Every build leaves its marks under the data home (`dbt/last_build/`): dbt's manifest and run
results (the `--state` of the next build), and per source the ledger position it covered.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from ingestion.config import PROJECT_ROOT
from ingestion.sources import SOURCES
from ingestion.tables import EVENTS, ledger_exists
from lakehouse.settings import settings

# What dbt reads to build: a change anywhere here may change a node (dbt then says which).
PROJECT_PARTS = ("models", "macros", "seeds", "tests/dbt", "dbt_project.yml")
STATE_ARTIFACTS = ("manifest.json", "run_results.json")
UNFINISHED = {"error": "result:error+", "fail": "result:fail+", "skipped": "result:skipped+"}
RELATIONS = ("model", "seed", "snapshot")
MOST_MISSING = 10
"""More relations missing than this (a fresh warehouse): the plan is to build everything."""


def state_dir() -> Path:
    return settings().home / "dbt" / "last_build"


def ledger_marks(spark: SparkSession) -> dict[str, str]:
    """Per source, how far its ledger has moved: the number of finished-batch events and the last."""
    if not ledger_exists(spark):
        return {}
    rows = spark.sql(
        f"select source, count(*) as events, cast(max(event_at) as string) as last_event "
        f"from {EVENTS} where status != 'started' group by source"
    ).collect()
    return {row.source: f"{row.events} events, last {row.last_event}" for row in rows}


def missing_relations(spark: SparkSession, manifest: Path) -> list[str]:
    """The nodes of the last build's manifest whose table or view the warehouse does not hold."""
    nodes = json.loads(manifest.read_text())["nodes"].values()
    wanted = {
        (node["schema"].lower(), (node.get("alias") or node["name"]).lower()): node["name"]
        for node in nodes
        if node["resource_type"] in RELATIONS and node["config"].get("materialized") != "ephemeral"
    }
    held = {
        (schema, row.tableName.lower())
        for schema in sorted({schema for schema, _ in wanted})
        if spark.catalog.databaseExists(schema)
        for row in spark.sql(f"show tables in `{schema}`").collect()
        if not row.isTemporary
    }
    return sorted(name for relation, name in wanted.items() if relation not in held)


def project_fingerprint(root: Path = PROJECT_ROOT) -> str:
    digest = hashlib.sha256()
    for part in PROJECT_PARTS:
        path = root / part
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file():
                digest.update(str(file.relative_to(root)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class LastBuild:
    target: str
    project: str
    ledger: dict[str, str]
    unfinished: tuple[str, ...]

    @classmethod
    def read(cls, folder: Path) -> LastBuild | None:
        try:
            marks = json.loads((folder / "marks.json").read_text())
            statuses = {r["status"] for r in json.loads((folder / "run_results.json").read_text())["results"]}
            return cls(
                marks["target"], marks["project"], marks["ledger"], tuple(s for s in UNFINISHED if s in statuses)
            )
        except (FileNotFoundError, KeyError, TypeError, json.JSONDecodeError):
            return None  # no usable record: the next build builds everything


@dataclass(frozen=True)
class BuildPlan:
    """`selectors` None: everything; empty: nothing to do. `ledger`: the marks the build will cover."""

    selectors: tuple[str, ...] | None
    why: str
    target: str
    project: str
    ledger: dict[str, str]

    @property
    def nothing_to_do(self) -> bool:
        return self.selectors == ()

    @property
    def changed_sources(self) -> list[str]:
        prefix = "source:bronze."
        return [s[len(prefix) : -1] for s in self.selectors or () if s.startswith(prefix)]

    def dbt_args(self) -> list[str]:
        """Unit tests check the SQL, not the data: a build for new batches leaves them out; they
        run when the project changed (and in every full build)."""
        if not self.selectors:
            return []
        args = ["--select", " ".join(self.selectors)]
        if any(s.startswith(("state:", "result:")) for s in self.selectors):
            args += ["--state", str(state_dir())]
        if not any(s.startswith("state:") for s in self.selectors):
            args += ["--exclude-resource-type", "unit_test"]
        return args


def plan_build(spark: SparkSession, everything: bool = False) -> BuildPlan:
    target, project, ledger = settings().dbt_target, project_fingerprint(), ledger_marks(spark)

    def plan(selectors: tuple[str, ...] | None, why: str) -> BuildPlan:
        return BuildPlan(selectors, why, target, project, ledger)

    last = LastBuild.read(state_dir())
    if everything:
        return plan(None, "everything, as asked")
    if last is None:
        return plan(None, "everything: no build recorded in this data home")
    if last.target != target:
        return plan(None, f"everything: the last build was for target {last.target}")
    if set(last.ledger) - set(ledger):
        return plan(None, "everything: the ledger lost batches the last build had seen")
    manifest = state_dir() / "manifest.json"
    if not manifest.exists():
        return plan(None, "everything: the last build's manifest is gone")
    missing = missing_relations(spark, manifest)
    if len(missing) > MOST_MISSING:
        return plan(None, f"everything: {len(missing)} relations of the last build are not in the warehouse")
    # A source the ledger holds but the project no longer declares has no model to rebuild.
    changed = sorted(source for source, mark in ledger.items() if source in SOURCES and last.ledger.get(source) != mark)
    selectors = [f"{name}+" for name in missing] + [f"source:bronze.{source}+" for source in changed]
    reasons = [f"not in the warehouse: {', '.join(missing)}"] if missing else []
    reasons += [f"new batches of {', '.join(changed)}"] if changed else []
    if project != last.project:
        selectors.append("state:modified+")
        reasons.append("the project changed")
    if last.unfinished:
        selectors += [UNFINISHED[status] for status in last.unfinished]
        reasons.append(f"the last build left nodes in {', '.join(last.unfinished)}")
    if not selectors:
        return plan((), "nothing: no batch and no change to the project since the last build")
    return plan(tuple(selectors), "; ".join(reasons))


def record_build(plan: BuildPlan, target_dir: Path) -> None:
    """After a build that ran the whole plan (failed or not): its artifacts and the ledger position
    it covered become the next build's state."""
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name in STATE_ARTIFACTS:
        shutil.copyfile(target_dir / name, folder / name)
    _write_marks(folder, plan.target, plan.project, plan.ledger)


def record_sources(plan: BuildPlan, sources: Iterable[str]) -> None:
    """After a build of part of the plan (a Dagster run of some assets) that rebuilt everything
    these sources reach: their ledger position is covered; the rest of the state stays."""
    folder = state_dir()
    last = LastBuild.read(folder)
    if last is None:
        return
    sources = set(sources)
    covered = {source: mark for source, mark in plan.ledger.items() if source in sources}
    _write_marks(folder, last.target, last.project, {**last.ledger, **covered})


def _write_marks(folder: Path, target: str, project: str, ledger: dict[str, str]) -> None:
    marks = {"target": target, "project": project, "ledger": ledger}
    (folder / "marks.json").write_text(json.dumps(marks, indent=2, sort_keys=True))
