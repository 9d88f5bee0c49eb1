"""Where time goes, kept in the lakehouse: every dbt build and each of its nodes (`ops.dbt_builds`,
`ops.dbt_nodes`, from dbt's run results, whether the CLI, follow mode or Dagster ran it), and one
view of every run's duration beside the ledger's batches (`ops.run_durations`).

Recording is bookkeeping: it never fails the build it follows."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import SparkSession

from ingestion.batch_status import BatchStatus

log = logging.getLogger(__name__)

BUILDS = "ops.dbt_builds"
NODES = "ops.dbt_nodes"
RUN_DURATIONS = "ops.run_durations"
TESTS = ("test", "unit_test")
_ensured: set[int] = set()

_BUILD_COLUMNS = (
    "invocation_id string, finished_at timestamp, via string, command string, selection string, seconds double, "
    "models bigint, models_failed bigint, tests bigint, tests_failed bigint, tests_warned bigint"
)
_NODE_COLUMNS = (
    "invocation_id string, finished_at timestamp, unique_id string, resource_type string, name string, "
    "status string, seconds double, failures bigint, message string"
)
_RUN_DURATIONS_VIEW = f"""
create or replace view {RUN_DURATIONS} as
select 'ingestion' as kind, source as name, batch_id as run_id, started_at, finished_at,
    cast(unix_millis(finished_at) - unix_millis(started_at) as double) / 1000 as seconds, status
from bronze.ingestion_batches where finished_at is not null
union all
select 'dbt ' || resource_type as kind, name, invocation_id as run_id,
    finished_at - make_dt_interval(0, 0, 0, cast(seconds as decimal(18, 6))) as started_at, finished_at, seconds, status
from {NODES}
"""


def ensure_ops_tables(spark: SparkSession) -> None:
    spark.sql("create schema if not exists ops comment 'How the lakehouse runs: builds, nodes, alerts'")
    spark.sql(
        f"create table if not exists {BUILDS} ({_BUILD_COLUMNS}) using delta "
        "comment 'One row per dbt build, run or test command: its duration and what failed'"
    )
    spark.sql(
        f"create table if not exists {NODES} ({_NODE_COLUMNS}) using delta "
        "comment 'One row per node of each dbt command: its status and seconds'"
    )
    if spark.catalog.tableExists("bronze.ingestion_batches"):
        spark.sql(_RUN_DURATIONS_VIEW)


def record_dbt_run(spark: SparkSession, target_dir: Path, via: str) -> None:
    """The build, run or test command whose artifacts are in `target_dir`, and its nodes."""
    path = target_dir / "run_results.json"
    try:
        results = json.loads(path.read_text())
        build, nodes = _rows(results, via)
        if id(spark) not in _ensured:  # once per session: three statements fewer per build
            ensure_ops_tables(spark)
            _ensured.add(id(spark))
        spark.createDataFrame([build], _BUILD_COLUMNS).write.format("delta").mode("append").saveAsTable(BUILDS)
        if nodes:
            spark.createDataFrame(nodes, _NODE_COLUMNS).write.format("delta").mode("append").saveAsTable(NODES)
    except Exception as error:  # noqa: BLE001 (bookkeeping never fails the build)
        log.warning("could not record the dbt run of %s in %s: %s", path, BUILDS, error)


def _rows(results: dict, via: str) -> tuple[tuple, list[tuple]]:
    metadata, args = results["metadata"], results.get("args", {})
    finished = datetime.fromisoformat(metadata["generated_at"].replace("Z", "+00:00")).astimezone(UTC)
    invocation = metadata["invocation_id"]
    nodes = []
    for result in results["results"]:
        resource_type = result["unique_id"].split(".")[0]
        nodes.append(
            (
                invocation,
                finished,
                result["unique_id"],
                resource_type,
                result["unique_id"].split(".")[-1 if resource_type == "unit_test" else 2],
                result["status"],
                float(result.get("execution_time") or 0.0),
                int(result.get("failures") or 0),
                (result.get("message") or "")[:1000],
            )
        )
    tests = [node for node in nodes if node[3] in TESTS]
    models = [node for node in nodes if node[3] == "model"]
    selection = " ".join(_as_list(args.get("select")))
    excluded = " ".join(_as_list(args.get("exclude")))
    build = (
        invocation,
        finished,
        via,
        args.get("which", ""),
        selection + (f" --exclude {excluded}" if excluded else "") or "everything",
        float(results.get("elapsed_time") or 0.0),
        len(models),
        sum(1 for node in models if node[5] == "error"),
        len(tests),
        sum(1 for node in tests if node[5] in ("fail", "error")),
        sum(1 for node in tests if node[5] == "warn"),
    )
    return build, nodes


def _as_list(value) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def latest_batches(spark: SparkSession) -> list:
    """Each source's latest finished batch (committed or quarantined), with its seconds, the seconds since
    the source's last committed batch (`age_s`), and when that was: what alerts and metrics both read."""
    if not spark.catalog.tableExists("bronze.ingestion_batches"):
        return []
    return spark.sql(
        f"""select source, batch_id, status, rows_good, rows_bad, last_committed_at,
                  cast(unix_millis(finished_at) - unix_millis(started_at) as double) / 1000 as duration_s,
                  cast(unix_millis(current_timestamp()) - unix_millis(last_committed_at) as double) / 1000 as age_s
           from (select *, row_number() over (partition by source order by seq desc) as recency,
                        max(case when status = '{BatchStatus.COMMITTED}' then finished_at end) over (partition by source)
                            as last_committed_at
                 from bronze.ingestion_batches where status in ('{BatchStatus.COMMITTED}', '{BatchStatus.QUARANTINED}'))
           where recency = 1"""
    ).collect()
