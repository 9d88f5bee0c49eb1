"""Materialising every asset in-process against the real services builds gold, and the checks pass."""

import random

from dagster import AssetKey, DagsterInstance

from ingestion import sample_data
from ingestion.producer import produce
from orchestration.definitions import defs
from tests.conftest import land, rows


def test_build_everything_produces_gold_rows_and_passing_checks(kafka, spark_server, spark):
    rng = random.Random(21)
    lines = list(sample_data.server_logs(rng, 400))
    land("server_logs", "dagster_access.log", "\n".join(lines) + "\n")
    produce("sales", (sample_data.encode(m) for m in sample_data.sales(rng, 400)), progress=False)

    result = defs.resolve_job_def("build_everything").execute_in_process(instance=DagsterInstance.ephemeral())

    assert result.success
    materialized = {event.asset_key: event for event in result.get_asset_materialization_events()}
    logs = materialized[AssetKey(["bronze", "server_logs"])].materialization.metadata
    not_log_lines = sum(1 for line in lines if line in ("-- log rotated --", "GET /index.html", "\x00\x00garbage"))
    assert (logs["rows_ingested"].value, logs["rows_quarantined"].value) == (len(lines) - not_log_lines, not_log_lines)
    assert logs["files"].value == ["dagster_access.log"]
    assert logs["delta_version"].value >= 1
    sales = materialized[AssetKey(["bronze", "sales"])].materialization.metadata
    assert sales["rows_ingested"].value + sales["rows_quarantined"].value >= 400
    assert sales["offset_ranges"].value

    spend = materialized[AssetKey(["gold", "agg_spend_by_customer"])].materialization.metadata
    assert spend["dagster/row_count"].value == rows(spark, "select count(*) from gold.agg_spend_by_customer")[0][0] > 0

    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) > 100
    failed = [
        (e.asset_key.to_user_string(), e.check_name)
        for e in evaluations
        if not e.passed and e.severity.value == "ERROR"
    ]
    assert failed == []
