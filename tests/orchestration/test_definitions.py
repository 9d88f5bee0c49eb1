"""The code location loads, and its asset graph is one lineage from landing zone to gold."""

import json
import os
import subprocess
import sys

import pytest
from dagster import AssetKey

from orchestration.definitions import defs
from orchestration.transform.assets import _DbtGraph
from orchestration.transform.project import dbt_project

pytestmark = pytest.mark.fast

DBT_GROUPS = ("reference", "staging", "silver", "gold")


def test_every_dbt_source_is_fed_by_its_ingestion_asset():
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    manifest = json.loads(dbt_project.manifest_path.read_text())
    source_keys = {
        AssetKey([source["source_name"], source["name"]])
        for source in manifest["sources"].values()
        if source["source_name"] == "bronze"
    }

    assert len(source_keys) == 9
    for key in source_keys:
        node = graph.get(key)
        assert node.is_materializable and node.group_name == "bronze", key
        assert [parent.path[0] for parent in node.parent_keys] in (["landing"], ["kafka"]), key
    # No orphan key: every asset's parents are assets of this location.
    for key in keys:
        assert graph.get(key).parent_keys <= keys, key


def test_layers_are_groups_and_dbt_tests_are_checks():
    graph = defs.resolve_asset_graph()
    groups: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key.to_user_string())
    assert set(groups) == {"landing", "bronze", "reference", "staging", "silver", "gold", "serving"}
    assert groups["serving"] == {"postgres/gold"}
    published = graph.get(AssetKey(["postgres", "gold"]))
    assert {key.to_user_string() for key in published.parent_keys} == groups["gold"] | {"ledger/ingestion_batches"}
    assert "gold/agg_spend_by_customer" in groups["gold"]
    assert "silver/slv_commerce__sales" in groups["silver"]
    assert graph.get(AssetKey(["gold", "agg_spend_by_customer"])).description.startswith("Spend per customer")

    checks = {(check.asset_key.to_user_string(), check.name) for check in graph.asset_check_keys}
    assert ("silver/slv_commerce__transactions", "column_rules_slv_commerce__transactions") in checks
    assert any(name.startswith("reconciles_with_bronze") for key, name in checks if key == "silver/slv_commerce__sales")
    manifest = json.loads(dbt_project.manifest_path.read_text())
    dbt_tests = [
        node for node in manifest["nodes"].values() if node["resource_type"] == "test" and node.get("attached_node")
    ]
    assert len(dbt_tests) > 50
    assert {name for key, name in checks} >= {node["name"] for node in dbt_tests}
    bronze = {key for key in groups["bronze"]}
    assert {key for key, name in checks if name == "shape_unchanged"} == bronze
    assert {key for key, name in checks if name == "files_readable"} == {
        "bronze/transactions",
        "bronze/server_logs",
        "bronze/social_posts",
        "bronze/water_sites",
        "bronze/water_methods",
    }


def test_a_batch_that_changed_its_source_shape_is_a_warning_naming_it():
    from ingestion.ledger import Batch
    from ingestion.plans import FilePlan
    from ingestion.sources import get_source
    from orchestration.bronze.assets import shape_check

    plan = FilePlan("day2.csv", "0" * 64, 0, None)
    same = Batch("transactions-000001", "transactions", 1, "committed", plan)
    changed = Batch(
        "transactions-000002", "transactions", 2, "committed", plan, shape_changes=["+ loyalty_tier (string)"]
    )
    assert shape_check(get_source("transactions"), [same]).passed
    warning = shape_check(get_source("transactions"), [same, changed])
    assert (warning.passed, warning.severity.value) == (False, "WARN")
    assert warning.description == "transactions-000002: + loyalty_tier (string) (schema policy evolve)"
    shape = '{"currency": ["string"], "customer_id": ["string"], "transaction_id": ["string"]}'
    broken = Batch("transactions-000003", "transactions", 3, "quarantined", plan, shape=shape)
    failure = shape_check(get_source("transactions"), [broken])
    assert (failure.passed, failure.severity.value) == (False, "ERROR")
    assert failure.description.startswith(
        "transactions-000003: required field(s) product_id, quantity, unit_price, transaction_at in none of its records"
    )


def test_jobs_schedules_and_sensors_are_defined():
    for job in (
        "ingest_everything",
        "transform_everything",
        "full_refresh",
        "build_everything",
        "rollback_and_replay",
        "maintain_tables",
    ):
        assert defs.resolve_job_def(job) is not None
    assert defs.resolve_schedule_def("daily_build").cron_schedule == "0 2 * * *"
    assert defs.resolve_schedule_def("nightly_maintenance").job.name == "maintain_tables"
    sensor_names = {sensor.name for sensor in defs.sensors}
    assert {
        "bronze_follows_sources",
        "silver_and_gold_follow_bronze",
        "published_follows_gold",
        "alerts",
    } <= sensor_names


def test_a_run_knows_which_dbt_models_it_selected():
    """What lets a Dagster build record its state for the next one (nothing to do with no new data)."""
    graph = defs.resolve_asset_graph()
    dbt_keys = {key for key in graph.get_all_asset_keys() if graph.get(key).group_name in DBT_GROUPS}
    manifest = json.loads(dbt_project.manifest_path.read_text())

    everything = _DbtGraph(manifest, dbt_keys)
    assert len(everything.selected) == len(everything.nodes) == 40
    assert everything.everything_selected

    three = {AssetKey(["staging", "stg_transactions__order_lines"]), AssetKey(["gold", "fct_order_lines"]),
             AssetKey(["reference", "countries"])}  # fmt: skip
    some = _DbtGraph(manifest, three)
    assert sorted(uid.split(".")[-1] for uid in some.selected) == [
        "countries", "fct_order_lines", "stg_transactions__order_lines"
    ]  # fmt: skip
    assert not some.everything_selected


def test_a_postgres_url_reaches_dagster_by_its_variable_name_never_its_password():
    # A process of its own: settings are read once per process.
    probe = (
        "from dagster import EnvVar\n"
        "from orchestration.definitions import defs\n"
        "resource = defs.resources['postgres']\n"
        "print(isinstance(resource.database_url, EnvVar), resource.database_url.env_var_name, 's3cret' in repr(resource))\n"
    )
    url = "postgresql://publisher:s3cret@127.0.0.1:5999/gold"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "LAKEHOUSE_POSTGRES_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "LAKEHOUSE_POSTGRES_URL", "False"]


def test_one_ingestion_sensor_watches_every_source_and_what_it_feeds():
    from ingestion.sources import SOURCES
    from orchestration.bronze.sensors import sensors

    (ingestion,) = sensors
    selected = ingestion.asset_selection.resolve(defs.resolve_asset_graph())
    assert {AssetKey(["bronze", name]) for name in SOURCES} <= selected
    assert AssetKey(["gold", "agg_sales_by_product_day"]) in selected
    assert AssetKey(["postgres", "gold"]) not in selected  # publishing has its own sensor, which a setting stops
