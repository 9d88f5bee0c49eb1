"""`lakehouse build` rebuilds only what changed, on the built lakehouse (tests/lakehouse/conftest.py):
nothing at all with no new data (no Delta table gets a new version), from the CLI and from a Dagster
materialisation; a new batch of one source rebuilds what it reaches and nothing else (and until
then `lakehouse verify` says gold is behind); a rollback of that batch is a change too; gold
follows by the keys that changed, and equals a full rebuild; a relation missing from the warehouse
is built whatever the last build's record says; `lakehouse maintain` removes no file that a
rollback, a replay or a build needs. The lakehouse ends as it began, for the suites after this one."""

from __future__ import annotations

import json
import subprocess

import pytest

from ingestion.config import PROJECT_ROOT
from ingestion.spark import connect
from lakehouse.verify.checksums import gold_checksums
from tests.lakehouse.conftest import BUILT_ENV, HOME, built_cli, built_environment

pytestmark = pytest.mark.changes

HEADER = "transaction_id,customer_id,product_id,quantity,unit_price,currency,transaction_timestamp,country,payment_method,status"
NEW_LINES = [f"TNEW{i:04},C00013,111,{i},10.00,EUR,2026-11-06T09:42:36Z,France,card,completed" for i in range(1, 8)]
# What a new batch of transactions must not reach.
ELSEWHERE = ["silver.slv_web__requests", "silver.slv_devices__events", "gold.agg_requests_by_status_hour"]


@pytest.fixture(scope="module")
def spark(built):
    session = connect(f"sc://127.0.0.1:{BUILT_ENV['LAKEHOUSE_CONNECT_PORT']}")
    yield session
    # Stopped: left open, it stays the process's active session, and a later
    # `SparkSession.builder.remote(...).getOrCreate()` of another suite would get this server.
    session.stop()


def _tables(spark) -> list[str]:
    return [
        f"{schema}.{row.tableName}"
        for schema in ("silver", "gold")
        for row in spark.sql(f"show tables in {schema}").collect()
        if not row.isTemporary
    ]


def _versions(spark) -> dict[str, int]:
    return {table: spark.sql(f"describe history {table} limit 1").collect()[0].version for table in _tables(spark)}


def _new_order_lines(spark) -> int:
    return spark.sql("select count(*) from gold.fct_order_lines where order_line_id like 'T-TNEW%'").collect()[0][0]


def _built_nodes() -> set[str]:
    results = json.loads((HOME / "dbt" / "target" / "run_results.json").read_text())["results"]
    return {result["unique_id"].split(".")[-1] for result in results if result["unique_id"].startswith("model.")}


def _build() -> str:
    build = built_cli("build")
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-2000:]
    return build.stdout


def _materialise(selection: str) -> str:
    """`dagster asset materialize` of some assets, as a user runs it; its output."""
    dagster_home = HOME / "dagster"
    dagster_home.mkdir(exist_ok=True)
    materialised = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "dagster"), "asset", "materialize", "-m", "orchestration.definitions",
         "--select", selection],
        cwd=PROJECT_ROOT, env=built_environment(DAGSTER_HOME=str(dagster_home)), capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    output = materialised.stdout + materialised.stderr
    assert materialised.returncode == 0, output[-4000:]
    return output


def _batches(spark) -> list:
    return spark.sql(
        "select batch_id, status from bronze.ingestion_batches where source = 'transactions' order by seq"
    ).collect()


def test_the_main_job_took_the_waiting_input_built_everything_and_printed_gold(built, spark):
    """`lakehouse run` on a fresh data home: the input already there was taken as it was, every layer
    built, a damaged file named at the end (exit code 1) after everything else was built."""
    run = built.run
    assert "already holds files; not writing more" in run.stdout
    assert "sales: already holds messages; not producing more" in run.stdout
    assert "dbt build: everything: no build recorded in this data home" in run.stdout
    printed = run.stdout.split("order-independent checksum of each table, to compare two builds):\n")[1]
    gold = [line.split() for line in printed.split("\n\n")[0].splitlines()]
    assert [(name, int(rows), checksum) for name, rows, _, checksum in gold] == [
        tuple(table) for table in gold_checksums(spark)
    ]
    assert len(gold) == 13 and all(int(rows) > 0 for _, rows, _, _ in gold)
    assert "Done. Where to look:" in run.stdout
    assert run.returncode == 1 and "could not be read" in run.stderr and "Traceback" not in run.stderr


def test_no_new_data_no_work(built, spark):
    before = _versions(spark)
    assert len(before) >= 24
    again = _build()
    assert "dbt build: nothing: no batch and no change to the project since the last build" in again
    assert "$ dbt build" not in again

    output = _materialise(
        "staging/stg_transactions__order_lines,silver/slv_commerce__transactions,gold/fct_order_lines"
    )
    assert "dbt build: nothing" in output
    assert _versions(spark) == before


def test_a_new_batch_rebuilds_what_it_reaches_and_nothing_else(built, spark):
    before = _versions(spark)
    (HOME / "landing" / "transactions" / "transactions_late.csv").write_text("\n".join([HEADER, *NEW_LINES]) + "\n")
    ingested = built_cli("ingest", "transactions")
    assert ingested.returncode == 0, ingested.stderr[-2000:]
    behind = built_cli("verify")
    assert behind.returncode == 3, behind.stdout[-2000:] + behind.stderr[-2000:]
    assert behind.stderr.startswith("error: gold is behind bronze: transactions took new batches since the last build")
    assert "hint: lakehouse build, then lakehouse verify" in behind.stderr
    output = _build()
    assert "dbt build: new batches of transactions" in output

    assert {"stg_transactions__order_lines", "slv_commerce__transactions", "fct_order_lines"} <= _built_nodes()
    assert not {"slv_web__requests", "slv_devices__events", "agg_requests_by_status_hour"} & _built_nodes()
    after = _versions(spark)
    assert after["gold.fct_order_lines"] > before["gold.fct_order_lines"]
    assert {table: after[table] for table in ELSEWHERE} == {table: before[table] for table in ELSEWHERE}
    assert _new_order_lines(spark) == len(NEW_LINES)


def test_a_rollback_is_a_change_too(built, spark):
    """Freshness on `_ingested_at` would miss it: a rollback makes the source older. Dagster builds
    it, and records that it did: the CLI's next build finds nothing to do."""
    late = _batches(spark)[-1]
    assert late.status == "committed"
    unknown = built_cli("rollback", "transactions", "transactions-999999")
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert unknown.stderr.startswith("error: no batch 'transactions-999999' in the ledger of transactions (its last: ")
    assert f"{late.batch_id})" in unknown.stderr.splitlines()[0]
    assert built_cli("rollback", "transactions", late.batch_id).returncode == 0
    assert "dbt build: new batches of transactions" in _materialise(
        "group:reference or group:staging or group:silver or group:gold"
    )
    assert _new_order_lines(spark) == 0
    assert "dbt build: nothing" in _build()
    (HOME / "landing" / "transactions" / "transactions_late.csv").unlink()  # as the suites after this one expect
    assert "dbt build: nothing" in _build()


def test_gold_follows_the_changed_keys_and_equals_a_full_rebuild(built, spark):
    """After the builds above (the first, a new batch, its rollback), gold was only ever patched:
    each build replaced the rows of the keys its upstream changed. A full rebuild changes nothing."""
    patched = [
        row.operationParameters["predicate"]
        for row in spark.sql("describe history gold.fct_order_lines").collect()
        if row.operation == "WRITE" and row.operationParameters.get("predicate")
    ]
    assert len(patched) == 2  # the new batch's order lines, then the same keys at its rollback
    assert all("T-TNEW0001" in predicate for predicate in patched)
    patched_days = spark.sql("describe history gold.agg_sales_by_product_day limit 1").collect()[0]
    assert patched_days.operation == "WRITE"
    assert "product_id = 111" in patched_days.operationParameters["predicate"]

    incremental = gold_checksums(spark)
    rebuilt = built_cli("dbt", "run", "--full-refresh", "--select", "path:models/gold")
    assert rebuilt.returncode == 0, rebuilt.stdout[-4000:]
    assert gold_checksums(spark) == incremental


def test_a_relation_missing_from_the_warehouse_is_built_whatever_the_last_build_says(built, spark):
    """As after a switch to a fresh warehouse, or another mode's, with `target/` from this one."""
    dropped = ["reference.water_quality_thresholds", "gold.agg_water_quality_by_site_parameter_month"]
    before = {table: spark.table(table).count() for table in dropped}
    assert all(before.values())
    for table in dropped:
        spark.sql(f"drop table {table}")

    output = _build()

    assert "not in the warehouse: agg_water_quality_by_site_parameter_month, water_quality_thresholds" in output
    assert {table: spark.table(table).count() for table in dropped} == before
    assert "dbt build: nothing" in _build()


def test_maintenance_keeps_what_rollback_and_replay_need(built, spark):
    """VACUUM with no history kept at all, then a file batch and a Kafka batch rolled back and
    replayed: the rebuilt gold is the clean run's, row for row."""
    clean = gold_checksums(spark)
    tables = _tables(spark)

    maintained = built_cli("maintain", "--retain-hours", "0")

    assert maintained.returncode == 0, maintained.stdout[-2000:] + maintained.stderr[-2000:]
    lines = {line.split(":")[0]: line for line in maintained.stdout.splitlines() if " files, " in line}
    assert set(tables) <= set(lines)
    # Rebuilt many times over, gold held files of its older versions: gone now.
    assert int(lines["gold.fct_order_lines"].split(" files, ")[1].split(" removed")[0]) > 0
    for table in ("gold.fct_order_lines", "bronze.transactions__all", "bronze.ingestion_batch_events"):
        after = int(lines[table].split(" → ")[1].split(" files")[0])
        assert after == spark.sql(f"describe detail {table}").collect()[0].numFiles == 1, lines[table]

    for source in ("transactions", "sales"):
        batch = (
            spark.sql(
                f"select batch_id from bronze.ingestion_batches where source = '{source}' and status = 'committed' "
                "order by seq limit 1"
            )
            .collect()[0]
            .batch_id
        )
        for step in ("rollback", "replay"):
            done = built_cli(step, source, batch)
            assert done.returncode == 0, done.stderr[-2000:]
    assert "dbt build: new batches of sales, transactions" in _build()

    assert gold_checksums(spark) == clean
