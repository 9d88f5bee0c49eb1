"""Materialising every asset in-process against the real services builds gold, and the checks pass."""

import gzip
import json
import random
from dataclasses import dataclass

import pytest
from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult

from ingestion.api import Options, ingest
from ingestion.sources import get_source
from lakehouse.samples import records as sample_data
from lakehouse.samples.producer import produce
from orchestration.definitions import defs
from orchestration.transform.project import dbt_project
from tests.conftest import land, rows


@dataclass(frozen=True)
class BuiltByDagster:
    result: ExecuteInProcessResult
    lines: list[str]
    """The server log lines landed before the build."""
    recorded: tuple[int, int]
    """(models, tests) of the build as `ops.dbt_builds` recorded it."""


@pytest.fixture(scope="module")
def built_by_dagster(kafka, spark_server, spark) -> BuiltByDagster:
    """`build_everything` on landed files and produced sales: every model and check, whatever the
    builds of the suites before this one recorded. Both tests need the warehouse it builds."""
    rng = random.Random(21)
    lines = list(sample_data.server_logs(rng, 400))
    land("server_logs", "dagster_access.log", "\n".join(lines) + "\n")
    land("server_logs", "dagster_truncated.log.gz", gzip.compress("\n".join(lines).encode())[:500])
    produce("sales", (sample_data.encode(m) for m in sample_data.sales(rng, 400)), progress=False)

    everything = {"ops": {"lakehouse_dbt_models": {"config": {"only_what_changed": False}}}}
    result = defs.resolve_job_def("build_everything").execute_in_process(
        run_config=everything, instance=DagsterInstance.ephemeral()
    )
    ((models, tests),) = rows(
        spark,
        "select models, tests from ops.dbt_builds where via = 'dagster' and command = 'build' "
        "order by finished_at desc limit 1",
    )
    return BuiltByDagster(result, lines, (models, tests))


def test_build_everything_produces_gold_rows_and_passing_checks(built_by_dagster, spark):
    result, lines = built_by_dagster.result, built_by_dagster.lines
    assert result.success
    materialized = {event.asset_key: event for event in result.get_asset_materialization_events()}
    logs = materialized[AssetKey(["bronze", "server_logs"])].materialization.metadata
    not_log_lines = sum(1 for line in lines if line in ("-- log rotated --", "GET /index.html", "\x00\x00garbage"))
    assert (logs["rows_ingested"].value, logs["rows_quarantined"].value) == (len(lines) - not_log_lines, not_log_lines)
    assert logs["files"].value == ["dagster_access.log", "dagster_truncated.log.gz"]
    assert logs["delta_version"].value >= 1
    sales = materialized[AssetKey(["bronze", "sales"])].materialization.metadata
    assert sales["rows_ingested"].value + sales["rows_quarantined"].value >= 400
    assert sales["offset_ranges"].value

    spend = materialized[AssetKey(["gold", "agg_spend_by_customer"])].materialization.metadata
    assert spend["dagster/row_count"].value == rows(spark, "select count(*) from gold.agg_spend_by_customer")[0][0] > 0

    evaluations = result.get_asset_check_evaluations()
    manifest = json.loads(dbt_project.manifest_path.read_text())
    dbt_tests = {
        n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "test" and n.get("attached_node")
    }
    assert len(dbt_tests) > 40
    assert dbt_tests <= {e.check_name for e in evaluations}  # every dbt test of a model ran as its check
    failed = [
        (e.asset_key.to_user_string(), e.check_name, e.description)
        for e in evaluations
        if not e.passed and e.severity.value == "ERROR"
    ]
    # The damaged file is the one failure, with its reason; everything else was ingested and built.
    assert failed == [
        (
            "bronze/server_logs",
            "files_readable",
            "dagster_truncated.log.gz: gzip stream ends after 500 bytes without its end marker "
            "(truncated or corrupt); file skipped",
        )
    ]

    # The run's dbt build and each of its nodes are in `ops`, as the CLI's are (alerts and the operations page).
    models, tests = built_by_dagster.recorded
    built_models = [e for e in materialized if e.path[0] in ("staging", "silver", "gold")]
    assert models == len(built_models) > 20 and tests > 40


def test_rollback_and_replay_job_restores_bronze_and_rebuilds_downstream(built_by_dagster, spark):
    land("server_logs", "dagster_rollback.log", "\n".join(sample_data.server_logs(random.Random(22), 50)) + "\n")
    batches = ingest(spark, get_source("server_logs"), Options(settle_seconds=0))
    ((batch_id, rows_good),) = [(b.batch_id, b.rows_good) for b in batches if b.plan.file == "dagster_rollback.log"]
    bronze_before = rows(spark, "select count(*) from bronze.server_logs")[0][0]

    result = defs.resolve_job_def("rollback_and_replay").execute_in_process(
        run_config={"ops": {"rollback_and_replay_batch": {"config": {"source": "server_logs", "batch_id": batch_id}}}},
        instance=DagsterInstance.ephemeral(),
    )

    assert result.success
    assert rows(spark, f"select status from bronze.ingestion_batches where batch_id = '{batch_id}'") == [
        ("rolled_back",)
    ]
    replayed = rows(
        spark,
        "select rows_good from bronze.ingestion_batches "
        f"where source = 'server_logs' and status = 'committed' and note like '%{batch_id}%'",
    )
    assert replayed == [(rows_good,)]
    assert rows(spark, "select count(*) from bronze.server_logs")[0][0] == bronze_before
    # Silver was rebuilt from the bronze that now holds the replayed batch: still bronze = silver + rejects.
    assert rows(
        spark,
        "select (select count(*) from silver.slv_web__requests) + (select count(*) from silver.slv_quality__rejects "
        "where source_name = 'server_logs')",
    ) == [(bronze_before,)]
    rebuilt = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"silver/slv_web__requests", "gold/agg_error_rate_by_hour"} <= rebuilt
