"""Silver and gold built by dbt on the real server, from bronze that the ingestion filled.

Two deliveries land in bronze, the second re-sending part of the first (an order line exported
again, Kafka messages delivered twice, a log file overlapping the previous one, a new version of
the sites workbook). After each, `lakehouse build` runs (`dbt build` of everything the first time,
then of what the new batches reach, incrementally); then a `--full-refresh` run must give exactly
the same tables.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
from datetime import datetime, timedelta

import pytest

from ingestion.api import Options, ingest
from ingestion.sources import SOURCES
from lakehouse.samples import records as sample_data
from lakehouse.samples.producer import produce
from tests.conftest import DBT_TARGET, PROJECT_ROOT, dbt_cli, lakehouse_cli, land, rows, xlsx_bytes

ROWS = 3000
HALF = ROWS // 2
RESENT = 40  # records of the first delivery that the second delivers again

REPEATED = '192.0.2.77 - - [02/Nov/2026:10:00:00 +0000] "GET /products/101 HTTP/1.1" 206 1024 "-" "Mozilla/5.0"'
OTHER = '192.0.2.77 - - [02/Nov/2026:10:00:01 +0000] "GET /cart HTTP/1.1" 200 512 "-" "Mozilla/5.0"'
TOPIC_SEEDS = {"sales": 11, "ad_events": 12, "water_quality": 13, "device_events": 14}
SOURCE_MODELS = {
    "transactions": "slv_commerce__transactions",
    "sales": "slv_commerce__sales",
    "server_logs": "slv_web__requests",
    "social_posts": "slv_social__posts",
    "ad_events": "slv_marketing__ad_events",
    "water_sites": "slv_water__sites",
    "water_methods": "slv_water__methods",
    "water_quality": "slv_water__measurements",
    "device_events": "slv_devices__events",
}


def _csv(records: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(sample_data.TRANSACTIONS_HEADER)
    writer.writerows(records)
    return out.getvalue()


def _json_lines(posts: list) -> str:
    return "".join((p if isinstance(p, str) else json.dumps(p, ensure_ascii=False)) + "\n" for p in posts)


class Deliveries:
    """The sample records of every source, split into two deliveries that overlap."""

    def __init__(self) -> None:
        self.transactions = list(sample_data.transactions(random.Random(1), ROWS))
        self.logs = list(sample_data.server_logs(random.Random(2), ROWS))
        self.posts = list(sample_data.social_posts(random.Random(3), ROWS))
        self.sites = sample_data.water_sites(random.Random(4))
        self.messages = {
            topic: list(sample_data.TOPIC_GENERATORS[topic](random.Random(seed), ROWS))
            for topic, seed in TOPIC_SEEDS.items()
        }

    def land_first(self) -> None:
        land("transactions", "orders_day1.csv", _csv(self.transactions[:HALF]))
        land("server_logs", "access_day1.log", "\n".join(self.logs[:HALF]) + "\n")
        land("social_posts", "posts_day1.jsonl", _json_lines(self.posts[:HALF]))
        land("water_sites", "sites.xlsx", xlsx_bytes(self.sites))
        land("water_methods", "methods.xlsx", xlsx_bytes(sample_data.WATER_METHODS))
        for topic, messages in self.messages.items():
            produce(topic, (sample_data.encode(m) for m in messages[:HALF]), progress=False)

    def land_second(self) -> None:
        land("transactions", "orders_day2.csv", _csv(self.transactions[HALF:] + self.transactions[:RESENT]))
        land("server_logs", "access_day2.log", "\n".join(self.logs[:RESENT] + self.logs[HALF:]) + "\n")
        # Identical lines: three requests in one file; the overlapping next file repeats two of them.
        land("server_logs", "repeats_a.log", "\n".join([REPEATED] * 3 + [OTHER]) + "\n")
        land("server_logs", "repeats_b.log", "\n".join([REPEATED] * 2 + [OTHER, OTHER]) + "\n")
        land("social_posts", "posts_day2.jsonl", _json_lines(self.posts[HALF:] + self.posts[:RESENT]))
        moved = [
            dict(site, name=f"{site['name']} (moved)") if site["site_id"] == "S001" else site for site in self.sites
        ]
        land("water_sites", "sites.xlsx", xlsx_bytes(moved))  # a new version of the same workbook
        for topic, messages in self.messages.items():
            produce(topic, (sample_data.encode(m) for m in messages[HALF:] + messages[:RESENT]), progress=False)


def _ingest_all(spark) -> list[str]:
    batch_ids = []
    for source in SOURCES.values():
        batch_ids += [batch.batch_id for batch in ingest(spark, source, Options(settle_seconds=0))]
    return batch_ids


def _build() -> str:
    """`lakehouse build`, as `make run` does: what new batches reach, recorded for the next one."""
    result = lakehouse_cli("build", timeout=900)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    _assert_nothing_failed()
    return result.stdout


def _assert_nothing_failed() -> None:
    results = json.loads((DBT_TARGET / "run_results.json").read_text())["results"]
    failed = [(r["unique_id"], r["status"], r["message"]) for r in results if r["status"] in ("error", "fail")]
    assert failed == []


def _fingerprints(spark) -> dict[str, tuple]:
    """Row count and an order-independent hash of the content of every silver and gold table."""
    tables = [
        f"{schema}.{row.tableName}"
        for schema in ("silver", "gold")
        for row in spark.sql(f"show tables in {schema}").collect()
        if not row.isTemporary
    ]
    return {
        table: rows(spark, f"select count(*), sum(cast(xxhash64(*) as decimal(38, 0))) from {table}")[0]
        for table in tables
    }


@pytest.fixture(scope="module")
def built(kafka, spark):
    """Both deliveries ingested and built incrementally; the tables' fingerprints before a full refresh."""
    deliveries = Deliveries()
    deliveries.land_first()
    first = _ingest_all(spark)
    _build()
    deliveries.land_second()
    second = _ingest_all(spark)
    _build()
    return deliveries, first, second, _fingerprints(spark)


def test_full_refresh_gives_the_tables_the_incremental_runs_built(built, spark):
    *_, incremental = built
    assert rows(spark, "select count(*) from silver.slv_commerce__transactions")[0][0] > 2000
    # The models only: their tests ran on the same rows in the incremental builds.
    result = dbt_cli("run", "--full-refresh", "--target", "local")
    assert result.returncode == 0, result.stdout[-6000:]
    _assert_nothing_failed()
    assert _fingerprints(spark) == incremental


def test_every_bronze_row_is_in_silver_or_rejected(built, spark):
    for source, model in sorted(SOURCE_MODELS.items()):
        bronze, silver, rejected = rows(
            spark,
            f"select (select count(*) from bronze.{source}), (select count(*) from silver.{model}), "
            f"(select count(*) from silver.slv_quality__rejects where source_name = '{source}')",
        )[0]
        assert bronze == silver + rejected, source
        assert silver > 0, source


def _rejected(spark, batch_ids: list[str], source: str, reason_like: str) -> int:
    ids = ", ".join(f"'{batch_id}'" for batch_id in batch_ids)
    return rows(
        spark,
        f"select count(*) from silver.slv_quality__rejects "
        f"where source_name = '{source}' and batch_id in ({ids}) and reject_reason like '{reason_like}'",
    )[0][0]


def test_planted_defects_are_rejected_with_their_reason(built, spark):
    deliveries, first, second, _ = built
    batches = first + second
    sent = deliveries.transactions[:HALF] + deliveries.transactions[HALF:] + deliveries.transactions[:RESENT]
    negative = sum(1 for row in sent if len(row) > 3 and row[3] == "-1")
    unknown_currency = sum(1 for row in sent if len(row) > 5 and row[5] == "XYZ")
    assert negative > 0 and unknown_currency > 0
    assert _rejected(spark, batches, "transactions", "quantity -1 is not positive") == negative
    assert _rejected(spark, batches, "transactions", 'currency "XYZ" has no reference rate') == unknown_currency

    views = sum(1 for m in deliveries.messages["ad_events"][HALF:] + deliveries.messages["ad_events"][:HALF]
                if isinstance(m, dict) and m["event_type"] == "view")  # fmt: skip
    assert _rejected(spark, batches, "ad_events", 'event_type "view" is neither impression nor click') >= views > 0
    impossible_ph = sum(1 for m in deliveries.messages["water_quality"]
                        if isinstance(m, dict) and m["parameter"] == "ph" and m["value"] == 15.2 and m["site_id"] != "S999")  # fmt: skip
    assert (
        _rejected(spark, batches, "water_quality", "ph 15.2 pH is physically impossible (0.0 to 14.0)")
        >= impossible_ph
        > 0
    )
    assert rows(
        spark,
        "select min(min_value) >= 0 and max(max_value) <= 14 from gold.agg_water_quality_by_site_parameter_month "
        "where parameter = 'ph'",
    ) == [(True,)]
    for source, reason in [
        ("sales", "quantite 0 is not positive"),
        ("water_quality", 'site_id "S999" is not a known site'),
        ("social_posts", 'platform "myspace" is not a known social network'),
        ("server_logs", 'request line "%x16%" is not "METHOD target protocol"'),
    ]:
        assert _rejected(spark, batches, source, reason) > 0, (source, reason)


def _is_valid_transaction(row: list[str]) -> bool:
    return len(row) == 10 and row[1] != "" and row[3] not in ("abc", "-1") and row[5] != "XYZ"


def test_redelivered_records_are_kept_once(built, spark):
    deliveries, _, second, _ = built
    # Every re-sent sale of the second delivery is a duplicate of the row kept from the first.
    resent_sales = {
        m["vente_id"] for m in deliveries.messages["sales"][:RESENT] if isinstance(m, dict) and "montant" in m
    }
    resent_valid = {
        m["vente_id"] for m in deliveries.messages["sales"][:RESENT] if isinstance(m, dict) and m.get("quantite")
    }
    ids = ", ".join(f"'{batch_id}'" for batch_id in second)
    duplicates = rows(
        spark,
        f"select cast(record_key as bigint) from silver.slv_quality__rejects where source_name = 'sales' "
        f"and batch_id in ({ids}) and reject_reason like 'duplicate: sale_id % is kept from sales/%'",
    )
    assert {key for (key,) in duplicates} >= resent_sales & resent_valid
    assert rows(spark, "select count(*) - count(distinct sale_id) from silver.slv_commerce__sales") == [(0,)]
    valid_resent = {row[0] for row in deliveries.transactions[:RESENT] if _is_valid_transaction(row)}
    kept = rows(
        spark,
        "select transaction_id, count(*) from silver.slv_commerce__transactions where transaction_id in "
        f"({', '.join(repr(i) for i in valid_resent)}) group by transaction_id",
    )
    assert dict(kept) == dict.fromkeys(valid_resent, 1)
    # The newer workbook replaced the site's row instead of adding one.
    assert rows(spark, "select site_name from silver.slv_water__sites where site_id = 'S001'") == [
        ("Station 001 (moved)",)
    ]


def test_identical_log_lines_in_a_file_are_requests_and_a_repeated_delivery_is_not(built, spark):
    # repeats_a: 3 x REPEATED + OTHER; repeats_b repeats 2 x REPEATED and OTHER, then a second OTHER.
    kept = rows(
        spark, "select path, count(*) from silver.slv_web__requests where client_ip = '192.0.2.77' group by path"
    )
    assert sorted(kept) == [("/cart", 2), ("/products/101", 3)]
    duplicates = rows(
        spark,
        "select count(*) from silver.slv_quality__rejects where source_name = 'server_logs' "
        "and record_position like 'repeats_b.log:%' and reject_reason like 'duplicate: request_id % is kept from repeats_a.log:%'",
    )
    assert duplicates == [(3,)]


def test_sales_stream_is_mapped_to_english_columns_in_utc(built, spark):
    deliveries, first, second, _ = built
    sale = next(m for m in deliveries.messages["sales"] if isinstance(m, dict) and "montant" in m and m["quantite"] > 0)
    paris = datetime.fromisoformat(sale["timestamp"])  # November: Paris is UTC+1
    assert rows(
        spark,
        "select date_format(sold_at, \"yyyy-MM-dd'T'HH:mm:ss\"), quantity, cast(amount_eur as double), customer_id, "
        f"product_id, customer_segment from silver.slv_commerce__sales where sale_id = {sale['vente_id']}",
    ) == [((paris - timedelta(hours=1)).isoformat(), sale["quantite"], sale["montant"], sale["client_id"],
           sale["produit_id"], sale["segment"])]  # fmt: skip
    ids = ", ".join(f"'{batch_id}'" for batch_id in first + second)
    codes = {
        code
        for (code,) in rows(
            spark,
            "select distinct f.country_code from gold.fct_order_lines f join ("
            f"select concat('S-', cast(sale_id as string)) as id from silver.slv_commerce__sales where _batch_id in ({ids}) "
            f"union all select concat('T-', transaction_id) from silver.slv_commerce__transactions where _batch_id in ({ids})"
            ") as mine on f.order_line_id = mine.id",
        )
    }
    assert codes == {"FR", "BE", "CH", "CA", "DE", "ES"}  # the sample's countries, in any language and case


def test_gold_revenue_adds_up_from_the_generated_sales(built, spark):
    deliveries, *_ = built
    first_seen: dict[int, dict] = {}
    for message in deliveries.messages["sales"]:
        if isinstance(message, dict) and "montant" in message and message["quantite"] > 0:
            first_seen.setdefault(message["vente_id"], message)
    expected = round(sum(m["montant"] for m in first_seen.values()), 2)
    stream_revenue = rows(
        spark, "select cast(sum(amount_eur) as double) from gold.fct_order_lines where channel = 'stream'"
    )[0][0]
    # Other test modules may have streamed sales into the same topic: this delivery is at least there.
    assert stream_revenue >= expected - 0.01
    total = rows(spark, "select cast(sum(revenue_eur) as double) from gold.agg_sales_by_product")[0][0]
    assert total == pytest.approx(
        rows(spark, "select cast(sum(amount_eur) as double) from gold.fct_order_lines where is_revenue")[0][0]
    )


def test_water_values_are_converted_to_the_method_unit(built, spark):
    converted = rows(
        spark,
        "select count(*), sum(case when abs(value * 1000 - reported_value) < 1e-6 and unit = 'mg/L' then 1 end) "
        "from silver.slv_water__measurements where reported_unit = 'µg/L' and method_id != 'M06'",
    )[0]
    assert converted[0] > 0 and converted[0] == converted[1]
    below = rows(
        spark,
        "select count_if(is_below_detection_limit), count_if(value < detection_limit) "
        "from silver.slv_water__measurements",
    )[0]
    assert below[0] > 0 and below[0] == below[1]


def test_gold_metrics_hold_rows_for_every_domain(built, spark):
    for table in [
        "agg_sales_by_product_day", "agg_sales_by_product", "agg_spend_by_customer",
        "agg_revenue_by_country_category_segment", "agg_ad_performance_by_campaign_day",
        "agg_requests_by_status_hour", "agg_error_rate_by_hour", "agg_engagement_by_product",
        "agg_water_quality_by_site_parameter_month", "agg_device_events_by_type_minute",
    ]:  # fmt: skip
        assert rows(spark, f"select count(*) from gold.{table}")[0][0] > 0, table
    clicks, impressions, ctr = rows(
        spark,
        "select sum(clicks), sum(impressions), max(click_through_rate) from gold.agg_ad_performance_by_campaign_day",
    )[0]
    assert 0 < clicks < impressions and 0 < ctr <= 1


def test_descriptions_reach_the_tables_as_comments(built, spark):
    for table in ("staging.stg_sales__sales", "silver.slv_commerce__sales", "gold.fct_order_lines"):
        columns = [row for row in spark.sql(f"describe table {table}").collect() if row.col_name and row.data_type]
        assert columns and all(row.comment for row in columns if not row.col_name.startswith("#")), table
        extended = {row.col_name: row.data_type for row in spark.sql(f"describe table extended {table}").collect()}
        assert extended["Comment"].strip(), table


def test_a_gold_contract_refuses_a_null_key(built, spark):
    properties = dict(rows(spark, "show tblproperties gold.fct_order_lines"))
    assert properties["delta.constraints.not_null_columns"] == (
        "order_line_id is not null and customer_id is not null and product_id is not null"
    )
    before = rows(spark, "select count(*) from gold.fct_order_lines")
    with pytest.raises(Exception, match="CHECK constraint not_null_columns"):
        spark.sql(
            "insert into gold.fct_order_lines "
            "select cast(null as string), * except (order_line_id) from gold.fct_order_lines limit 1"
        ).collect()
    assert rows(spark, "select count(*) from gold.fct_order_lines") == before


def test_a_rollback_leaves_silver_and_gold_on_the_next_build_and_a_replay_brings_it_back(built, spark):
    """`lakehouse rollback` then a plain `dbt build`: no full refresh, for a file and a Kafka batch."""
    _, first, _, _ = built
    file_batch = next(b for b in first if b.startswith("transactions-"))
    kafka_batch = next(b for b in first if b.startswith("sales-"))
    lines = (
        "select (select count(*) from silver.slv_commerce__transactions where _batch_id = '{f}'), "
        "(select count(*) from silver.slv_commerce__sales where _batch_id = '{k}'), "
        "(select count(*) from gold.fct_order_lines), (select count(distinct order_line_id) from gold.fct_order_lines)"
    )
    before = rows(spark, lines.format(f=file_batch, k=kafka_batch))[0]
    assert before[0] > 0 and before[1] > 0 and before[2] == before[3]
    from_batches = rows(
        spark,
        "select count(*) from gold.fct_order_lines where order_line_id in ("
        f"select concat('T-', transaction_id) from silver.slv_commerce__transactions where _batch_id = '{file_batch}' "
        f"union all select concat('S-', cast(sale_id as string)) from silver.slv_commerce__sales "
        f"where _batch_id = '{kafka_batch}')",
    )[0][0]
    for source, batch in (("transactions", file_batch), ("sales", kafka_batch)):
        assert lakehouse_cli("rollback", source, batch).returncode == 0
    # An ordinary build of what the two sources reach; its reconciliation tests pass (bronze = silver + rejects).
    assert "dbt build: new batches of sales, transactions" in _build()
    after = rows(spark, lines.format(f=file_batch, k=kafka_batch))[0]
    assert after[:2] == (0, 0)
    # Their lines left gold, except those the second delivery re-sent: they are kept from that copy.
    assert before[2] - from_batches <= after[2] < before[2]
    assert after[2] == after[3]

    for source, batch in (("transactions", file_batch), ("sales", kafka_batch)):
        assert lakehouse_cli("replay", source, batch).returncode == 0
    assert "dbt build: new batches of sales, transactions" in _build()
    again = rows(spark, lines.format(f=file_batch, k=kafka_batch))[0]
    assert again[2:] == before[2:]  # every line back, once


def test_follow_with_build_keeps_silver_and_gold_up_to_date(built, spark):
    """`lakehouse ingest --follow --build`: new messages reach silver and gold with no other command,
    building only what they reach (the builds before were recorded)."""
    import signal
    import subprocess
    import sys

    follower = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "ingest", "device_events", "--follow", "--build", "--interval", "1"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    event = {"device_id": "BUILD-1", "device_type": "meter", "event_type": "consumption", "value": 1.5}
    try:
        produce("device_events", [json.dumps({**event, "event_at": "2031-03-01T08:00:00Z"}).encode()], progress=False)
        deadline = time.monotonic() + 600
        query = "select count(*) from gold.agg_device_events_by_type_minute where event_minute = '2031-03-01 08:00:00'"
        while rows(spark, query) != [(1,)]:
            assert time.monotonic() < deadline, "the event did not reach gold"
            time.sleep(3)
        follower.send_signal(signal.SIGINT)
        output, _ = follower.communicate(timeout=600)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, output[-3000:]
    assert "dbt build: new batches of device_events" in output, output[-3000:]
    assert rows(spark, "select count(*) from silver.slv_devices__events where device_id = 'BUILD-1'") == [(1,)]
