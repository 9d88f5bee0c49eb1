"""Gold follows the data by itself: `lakehouse ui` (webserver and daemon) on a fresh data home,
messages produced and a file dropped, and gold holds them with no click. A functional check with a
generous bound; how fast is measured by benchmarks/live_latency.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest

from ingestion.config import PROJECT_ROOT
from lakehouse.samples.records import one_sale
from lakehouse.settings import side_by_side_environment
from tests.conftest import stop_process_group

LIVE_ENV = {
    **side_by_side_environment("live"),
    "LAKEHOUSE_CACHE": os.environ["LAKEHOUSE_CACHE"],
    "LAKEHOUSE_INGEST_SETTLE_SECONDS": "1",
    # This test is about gold; publishing it to PostgreSQL after each build is tested in test_serving.
    "LAKEHOUSE_PUBLISH_AFTER_BUILD": "false",
}
HOME = LIVE_ENV["LAKEHOUSE_HOME"]
LIVE_ENV["DBT_TARGET_PATH"] = f"{HOME}/dbt/target"
LIVE_ENV["DBT_LOG_PATH"] = f"{HOME}/dbt/logs"
FIRST_DAY = date(2031, 1, 1)
SALES = 10
BOUND_S = 900

pytestmark = pytest.mark.live


def _env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    return {**base, **LIVE_ENV}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lakehouse.cli", *args], cwd=PROJECT_ROOT, env=_env(), timeout=600)


def _wait_for(what: str, check, bound_s: float = BOUND_S):
    deadline = time.monotonic() + bound_s
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} did not happen within {bound_s} s"
        time.sleep(3)


@pytest.fixture(scope="module")
def live():
    """`lakehouse ui` on a fresh data home of its own; everything stopped at the end, also on failure."""
    import shutil

    _cli("down")
    shutil.rmtree(HOME, ignore_errors=True)
    ui = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "ui"],
        cwd=PROJECT_ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    spark = None
    try:
        from ingestion.spark import connect

        url = f"sc://127.0.0.1:{LIVE_ENV['LAKEHOUSE_CONNECT_PORT']}"
        spark = _wait_for("the Spark server", lambda: _try_connect(connect, url), 300)
        yield spark
    finally:
        if spark is not None:
            spark.stop()  # the next modules' sessions must not fall back on this one's server
        stop_process_group(ui)
        _cli("down")


def _try_connect(connect, url):
    """The server's session once it answers queries. Probed with a throwaway session first: one
    opened while the server is still starting stays broken, and `connect` would keep it."""
    from pyspark.sql import SparkSession

    try:
        probe = SparkSession.builder.remote(url).create()
        try:
            probe.sql("select 1").collect()
        finally:
            probe.stop()
        return connect(url)
    except Exception:  # noqa: BLE001 (still starting: no port, or no session yet)
        return None


def _gold_days(spark) -> set[date]:
    if not spark.catalog.tableExists("gold.agg_sales_by_product_day"):
        return set()
    rows = spark.sql(
        f"select order_date from gold.agg_sales_by_product_day where order_date >= date'{FIRST_DAY}'"
    ).collect()
    return {row.order_date for row in rows}


def test_gold_follows_messages_and_files_from_a_fresh_start(live):
    from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
    from kafka import KafkaProducer

    spark = live
    # From the first start, on a Dagster instance that never materialised anything.
    _wait_for("a first gold on the fresh data home", lambda: spark.catalog.tableExists("gold.agg_sales_by_product_day"))

    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{LIVE_ENV['LAKEHOUSE_KAFKA_PORT']}")
    for n in range(SALES):
        producer.send("sales", one_sale(7_000_000 + n, FIRST_DAY + timedelta(days=n)))
    producer.flush()
    producer.close()
    file_day = FIRST_DAY + timedelta(days=100)
    landing = f"{HOME}/landing/transactions"
    os.makedirs(landing, exist_ok=True)
    with open(f"{landing}/live.csv", "w") as handle:
        handle.write(
            "transaction_id,customer_id,product_id,quantity,unit_price,currency,transaction_timestamp,country,"
            f"payment_method,status\nLIVE0001,C00007,101,2,10.00,EUR,{file_day}T12:00:00Z,France,card,completed\n"
        )
    settled = time.time() - 60  # a finished upload: the sensor's next tick sees it with the messages
    os.utime(f"{landing}/live.csv", (settled, settled))

    expected = {FIRST_DAY + timedelta(days=n) for n in range(SALES)} | {file_day}
    _wait_for("gold holding every new sale and the file", lambda: expected <= _gold_days(spark))

    # Nothing twice: every message and line once in bronze, silver and gold.
    assert spark.sql("select count(*), count(distinct _kafka_partition, _kafka_offset) from bronze.sales").first() == (
        SALES,
        SALES,
    )
    assert spark.sql("select count(*) from bronze.transactions").first()[0] == 1
    assert spark.sql("select count(*) from silver.slv_commerce__sales").first()[0] == SALES
    rows = spark.sql(
        "select order_date, order_lines, revenue_eur from gold.agg_sales_by_product_day "
        f"where order_date >= date'{FIRST_DAY}' order by order_date"
    ).collect()
    assert [(r.order_lines, float(r.revenue_eur)) for r in rows] == [(1, 899.99)] * SALES + [(1, 20.0)]

    instance = DagsterInstance.from_config(f"{HOME}/dagster")
    in_flight = [DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
    _wait_for("the runs to end", lambda: not instance.get_runs(RunsFilter(statuses=in_flight)), 300)
    failed = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
    assert [(run.job_name, run.tags.get("dagster/sensor_name")) for run in failed] == []
    # The automation built every model of the fresh instance, the web log path (which reads the ledger) too.
    automated = instance.get_runs(RunsFilter(tags={"dagster/sensor_name": "silver_and_gold_follow_bronze"}))
    assert AssetKey(["staging", "stg_server_logs__requests"]) in set().union(*(r.asset_selection for r in automated))
    ingestions = instance.get_runs(RunsFilter(tags={"dagster/sensor_name": "bronze_follows_sources"}))
    assert {"sales", "transactions"} <= {s for run in ingestions for s in run.tags["lakehouse/sources"].split(",")}
    runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
    run_keys = [run.tags["dagster/run_key"] for run in runs if "dagster/run_key" in run.tags]
    assert len(run_keys) == len(set(run_keys)), "a sensor asked twice for the same data"
    batches = spark.sql("select batch_id, status from bronze.ingestion_batches where source = 'sales'").collect()
    assert sum(1 for b in batches if b.status == "committed") >= 1
    # The automation's evaluations are recorded (the UI shows them in each asset's Automation tab).
    evaluations = instance.schedule_storage.get_auto_materialize_asset_evaluations(
        AssetKey(["gold", "agg_sales_by_product_day"]), limit=5
    )
    assert evaluations
