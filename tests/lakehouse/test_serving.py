"""Serving the gold of the built lakehouse: PostgreSQL holds what gold holds, the REST API answers
every endpoint and refuses what it must, the dashboard shows gold's figures in a real browser, and
all of it works while Dagster materialises and an ad hoc query runs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path

import psutil
import psycopg
import pytest
from playwright.sync_api import sync_playwright

from ingestion.tables import BATCH_INPUT
from lakehouse.serving.dashboard.formats import compact_eur
from tests.conftest import PROJECT_ROOT, screenshot_path, stop_process_group, wait_for_http
from tests.lakehouse.conftest import BUILT_ENV, HOME, built_cli, built_environment
from tests.lakehouse.conftest import built_sql as _gold

pytestmark = pytest.mark.serving

# Beside the built lakehouse's own users file (which stays empty: its servers are open), in the
# same folder: the same masking key.
SIGNED_USERS = Path(BUILT_ENV["LAKEHOUSE_USERS_FILE"]).with_name("signed-users")
USERS = {"ada": ("admin", "ada-passw0rd"), "ana": ("analyst", "ana-passw0rd"), "vera": ("viewer", "vera-passw0rd")}
API_PORT = int(BUILT_ENV["LAKEHOUSE_API_PORT"])
DASHBOARD_PORT = int(BUILT_ENV["LAKEHOUSE_DASHBOARD_PORT"])
POSTGRES_URL = f"postgresql://lakehouse@127.0.0.1:{BUILT_ENV['LAKEHOUSE_POSTGRES_PORT']}/lakehouse"
DASHBOARD_PAGES = {"commerce": "", "web": "web", "marketing": "marketing", "social": "social", "water": "water",
                   "devices": "devices", "health": "health", "operations": "operations"}  # fmt: skip


def _get(path: str, user: str | None = "ada", password: str | None = None) -> tuple[int, dict | str, dict]:
    """GET `path` as `user` (HTTP Basic with the user's password, or `password`); as nobody for None."""
    import base64

    request = urllib.request.Request(f"http://127.0.0.1:{API_PORT}{path}")
    if user:
        secret = password or USERS[user][1]
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, body, headers = response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, body, headers = error.code, error.read().decode(), dict(error.headers)
    if headers.get("content-type", "").startswith("application/json"):
        return status, json.loads(body), headers
    return status, body, headers


def _background(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", *args],
        cwd=PROJECT_ROOT,
        env=built_environment(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def api(built):
    """The API with a user of each role (its own users file: the other servers stay open)."""
    from lakehouse.serving.access import add_user

    for name, (role, secret) in USERS.items():
        add_user(name, role, secret, SIGNED_USERS)
    server = _background("api", LAKEHOUSE_USERS_FILE=str(SIGNED_USERS))
    try:
        wait_for_http(f"http://127.0.0.1:{API_PORT}/docs", timeout_s=180)
        yield
    finally:
        stop_process_group(server)


@pytest.fixture(scope="module")
def signed_dashboard(built):
    """The dashboard with a user of each role, on a port of its own."""
    from lakehouse.serving.access import add_user

    for name, (role, secret) in USERS.items():
        add_user(name, role, secret, SIGNED_USERS)
    port = DASHBOARD_PORT + 40
    server = _background("dashboard", "--port", str(port), LAKEHOUSE_USERS_FILE=str(SIGNED_USERS))
    try:
        wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", timeout_s=180)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(server)


@pytest.fixture(scope="module")
def dashboard(built):
    server = _background("dashboard")
    try:
        wait_for_http(f"http://127.0.0.1:{DASHBOARD_PORT}/_stcore/health", timeout_s=180)
        yield f"http://127.0.0.1:{DASHBOARD_PORT}"
    finally:
        stop_process_group(server)


# -- PostgreSQL ----------------------------------------------------------------------------------


def _postgres(sql: str) -> list[tuple]:
    with psycopg.connect(POSTGRES_URL) as db:
        return db.execute(sql).fetchall()


def test_publish_copies_gold_and_the_ledger_twice_with_the_same_rows(built):
    first = built_cli("publish")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "published 14 tables" in first.stdout
    second = built_cli("publish")
    assert second.returncode == 0, second.stderr[-2000:]

    gold_tables = [row[1] for row in _gold("show tables in gold")]
    assert len(gold_tables) == 13
    for table in gold_tables:
        assert _postgres(f"select count(*) from gold.{table}") == _gold(f"select count(*) from gold.{table}"), table
    assert _postgres("select count(*) from bronze.ingestion_batches") == _gold(
        "select count(*) from bronze.ingestion_batches"
    )
    postgres_sum = _postgres(
        "select sum(amount_eur), sum(quantity), count(distinct order_line_id) from gold.fct_order_lines"
    )
    lakehouse_sum = _gold(
        "select sum(amount_eur), sum(quantity), count(distinct order_line_id) from gold.fct_order_lines"
    )
    assert postgres_sum[0][0] == Decimal(str(lakehouse_sum[0][0])) and postgres_sum[0][1:] == lakehouse_sum[0][1:]
    assert _postgres("select sum(revenue_eur) from gold.agg_sales_by_product")[0][0] == Decimal(
        str(_gold("select sum(revenue_eur) from gold.agg_sales_by_product")[0][0])
    )
    types = dict(
        _postgres(
            "select column_name, data_type || coalesce('(' || numeric_precision || ',' || numeric_scale || ')', '') "
            "from information_schema.columns where table_schema = 'gold' and table_name = 'fct_order_lines'"
        )
    )
    assert types["amount_eur"] == "numeric(18,2)"
    assert types["unit_price_eur"] == "numeric(18,4)"
    assert types["ordered_at"] == "timestamp with time zone"
    assert types["order_date"] == "date"
    assert types["quantity"].startswith("bigint")
    # No loading table is left behind.
    assert _postgres("select count(*) from information_schema.tables where table_name like '%\\_\\_loading'") == [(0,)]


def test_postgres_roles_read_their_scope_and_no_personal_value(built):
    """A viewer's login reads `gold_masked` (personal columns masked with the API's keyed hash, the
    other tables whole) and nothing of `gold` or the ledger; an admin's reads both as published."""
    import hashlib

    assert built_cli("publish").returncode == 0
    with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
        for login, role in (("vera_pg", "lakehouse_viewer"), ("ada_pg", "lakehouse_admin")):
            db.execute(f"drop role if exists {login}")
            db.execute(f"create role {login} login in role {role}")

    def as_login(login: str, statement: str) -> list[tuple]:
        with psycopg.connect(POSTGRES_URL.replace("lakehouse@", f"{login}@"), autocommit=True) as db:
            return db.execute(statement).fetchall()

    for statement in (
        "select count(*) from gold.agg_spend_by_customer",
        "select count(*) from bronze.ingestion_batches",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_login("vera_pg", statement)
    names = dict(_gold("select customer_id, customer_name from gold.agg_spend_by_customer"))
    key = Path(BUILT_ENV["LAKEHOUSE_USERS_FILE"]).with_name("masking.key").read_text().strip()
    expected = {
        customer: None if name is None else "masked:" + hashlib.sha256(f"{key}{name}".encode()).hexdigest()[:16]
        for customer, name in names.items()
    }
    assert (
        dict(as_login("vera_pg", "select customer_id, customer_name from gold_masked.agg_spend_by_customer"))
        == expected
    )
    assert any(expected.values())
    (whole,) = _gold("select count(*), sum(amount_eur) from gold.fct_order_lines")
    (seen,) = as_login("vera_pg", "select count(*), sum(amount_eur) from gold_masked.fct_order_lines")
    assert seen == (whole[0], Decimal(str(whole[1])))
    assert dict(as_login("ada_pg", "select customer_id, customer_name from gold.agg_spend_by_customer")) == names
    assert as_login("ada_pg", "select count(*) from bronze.ingestion_batches") == _postgres(
        "select count(*) from bronze.ingestion_batches"
    )


def test_publish_refuses_an_unknown_table(built):
    refused = built_cli("publish", "gold.nosuch; drop table x")
    assert refused.returncode == 1
    assert "cannot publish 'gold.nosuch; drop table x'" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_postgres_keeps_its_data_across_a_restart(built):
    assert built_cli("publish", "gold.agg_sales_by_product").returncode == 0
    before = _postgres("select count(*), sum(revenue_eur) from gold.agg_sales_by_product")
    assert built_cli("postgres", "stop").returncode == 0
    assert "stopped" in built_cli("postgres", "status").stdout
    assert built_cli("postgres", "start").returncode == 0
    assert _postgres("select count(*), sum(revenue_eur) from gold.agg_sales_by_product") == before
    assert before[0][0] > 0


# -- REST API -------------------------------------------------------------------------------------


def test_every_endpoint_serves_its_table(api):
    status, catalog, _ = _get("/tables")
    assert status == 200
    assert len([path for path in catalog if path.startswith("gold/")]) == 13
    assert {
        "silver/transactions",
        "silver/requests",
        "silver/posts",
        "silver/ad_events",
        "ledger",
        "quarantine",
    } <= set(catalog)
    for path, table in catalog.items():
        status, page, _ = _get(f"/{path}?limit=3")
        assert status == 200, (path, page)
        (expected,) = _gold(f"select count(*) from {table['table']}")[0]
        assert page["total"] == expected and len(page["rows"]) == min(3, expected), path
        assert list(page["rows"][0]) == [c["name"] for c in table["columns"]], path


def test_filters_sorting_and_pages(api):
    (top_name, top_revenue) = _gold(
        "select product_name, revenue_eur from gold.agg_sales_by_product order by revenue_eur desc limit 1"
    )[0]
    status, page, _ = _get("/gold/agg_sales_by_product?sort=-revenue_eur&limit=1")
    assert status == 200
    assert (page["rows"][0]["product_name"], Decimal(page["rows"][0]["revenue_eur"])) == (
        top_name,
        Decimal(str(top_revenue)),
    )

    (country, count) = _gold(
        "select country_code, count(*) from gold.fct_order_lines where country_code is not null "
        "group by 1 order by 2 desc limit 1"
    )[0]
    status, page, _ = _get(f"/gold/fct_order_lines?country_code={country}&limit=1000")
    assert page["total"] == count and {r["country_code"] for r in page["rows"]} == {country}

    (in_range,) = _gold("select count(*) from gold.fct_order_lines where amount_eur >= 100 and amount_eur < 200")[0]
    status, page, _ = _get("/gold/fct_order_lines?amount_eur__gte=100&amount_eur__lt=200&limit=1")
    assert status == 200 and page["total"] == in_range

    seen = []
    offset = 0
    while offset is not None:
        status, page, _ = _get(f"/gold/agg_sales_by_product?sort=product_id&limit=7&offset={offset}")
        seen += [r["product_id"] for r in page["rows"]]
        offset = page["next_offset"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == page["total"]

    status, text, headers = _get("/gold/agg_sales_by_product?sort=product_id&limit=5&format=csv")
    assert status == 200 and headers["content-type"].startswith("text/csv")
    lines = text.strip().splitlines()
    assert lines[0].startswith("product_id,product_name,category") and len(lines) == 6


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?nosuch=1", "unknown filter 'nosuch'"),
        ("?product_id=1%20or%201=1", "product_id: '1 or 1=1' is not a valid integer"),
        ("?sort=revenue_eur;drop%20table%20x", "cannot sort on 'revenue_eur;drop table x'"),
        ("?limit=1000000", "limit must be between 1 and 1000"),
        ("?limit=0", "limit must be between 1 and 1000"),
        ("?offset=-5", "offset must be between 0"),
        ("?limit=ten", "limit must be a whole number"),
        ("?format=xml", "format must be json or csv"),
        ("?first_sale_date__gte=yesterday", "is not a valid date"),
        ("?product_id__like=1", "unknown filter 'product_id__like'"),
    ],
)
def test_bad_parameters_get_a_clear_400(api, query, message):
    status, body, _ = _get(f"/gold/agg_sales_by_product{query}")
    assert status == 400 and message in body["error"], body


def test_a_text_filter_is_a_value_never_sql(api):
    status, page, _ = _get("/gold/fct_order_lines?" + urllib.parse.urlencode({"country_code": "FR' or '1'='1"}))
    assert status == 200 and page["total"] == 0


def test_each_role_reads_its_scope_and_nothing_else(api):
    assert _get("/gold/agg_sales_by_product", user=None)[:2] == (
        401, {"error": "credentials required: HTTP Basic with a user of the lakehouse"},
    )  # fmt: skip
    assert _get("/gold/agg_sales_by_product", user="vera", password="wrong-passw0rd")[:2] == (
        401, {"error": "wrong user name or password"},
    )  # fmt: skip
    scopes = {
        "vera": {"gold/agg_sales_by_product": 200, "silver/requests": 403, "ledger": 403, "quarantine": 403},
        "ana": {"gold/agg_sales_by_product": 200, "silver/requests": 200, "ledger": 403, "quarantine": 403},
        "ada": {"gold/agg_sales_by_product": 200, "silver/requests": 200, "ledger": 200, "quarantine": 200},
    }
    for user, expected in scopes.items():
        answers = {path: _get(f"/{path}?limit=1", user=user) for path in expected}
        assert {path: answer[0] for path, answer in answers.items()} == expected, user
        assert all("rows" not in body for status, body, _ in answers.values() if status != 200)


def test_personal_columns_reach_only_admins_unmasked(api, tmp_path):
    """Every served table, as a viewer and as an analyst, and a viewer's export: no raw value of a
    tagged column; counts and joins still hold (the same value is masked the same way)."""
    from lakehouse.serving.access import personal
    from lakehouse.serving.catalog import served_tables

    tagged = {path: personal(t.table) for path, t in served_tables().items() if personal(t.table)}
    assert {"gold/dim_customers", "gold/agg_spend_by_customer", "silver/requests", "silver/posts", "quarantine"} <= set(
        tagged
    )
    always_there = {"customer_name", "client_ip", "user_agent", "author_handle", "raw"}
    for path, columns in tagged.items():
        table = served_tables()[path].table
        values_of = {
            c: {str(v) for (v,) in _gold(f"select distinct `{c}` from {table} where `{c}` is not null")}
            for c in columns
        }
        for user in ("vera", "ana", "ada"):
            status, page, _ = _get(f"/{path}?limit=1000", user=user)
            if status == 403:
                continue
            assert status == 200, (path, user, page)
            for column, values in values_of.items():
                served = {row[column] for row in page["rows"] if row[column] is not None}
                if user == "ada":
                    assert served <= values, (path, column)
                else:
                    assert not served & values, (path, column, user)
                    assert all(v.startswith("masked:") for v in served), (path, column, user)
                assert served or column not in always_there, (path, column, user)
    # The same customer is masked the same way in two tables: a join still works.
    spend = {
        r["customer_id"]: r["customer_name"]
        for r in _get("/gold/agg_spend_by_customer?limit=1000", user="vera")[1]["rows"]
    }
    names = {
        r["customer_id"]: r["customer_name"] for r in _get("/gold/dim_customers?limit=1000", user="vera")[1]["rows"]
    }
    shared = [c for c in spend if c in names and spend[c] is not None]
    assert shared and all(spend[c] == names[c] for c in shared)

    out = tmp_path / "spend.csv"
    exported = built_cli("export", "gold.agg_spend_by_customer", "--role", "viewer", "--out", str(out))
    assert exported.returncode == 0 and "(customer_name masked for viewer)" in exported.stdout, exported.stderr
    names_in_gold = {
        v
        for (v,) in _gold(
            "select distinct customer_name from gold.agg_spend_by_customer where customer_name is not null"
        )
    }
    text = out.read_text()
    assert names_in_gold and not any(name in text for name in names_in_gold)
    refused = built_cli("export", "silver.slv_web__requests", "--role", "viewer", "--out", str(tmp_path / "r.csv"))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("error: an export for a viewer (viewer) may not read silver.slv_web__requests")
    assert not (tmp_path / "r.csv").exists()


def test_health_reports_services_and_freshness(api):
    status, health, _ = _get("/health", user=None)
    assert status == 200 and health["status"] == "ok"
    assert health["services"] == {"spark_connect": True, "spark_thrift": True, "kafka": True}
    sources = {entry["source"]: entry for entry in health["freshness"]}
    assert {"transactions", "sales", "server_logs", "water_quality", "device_events"} <= set(sources)
    landed = dict(
        _gold("select source, sum(rows_good) from bronze.ingestion_batches where status = 'committed' group by 1")
    )
    assert {name: entry["rows_landed"] for name, entry in sources.items()} == landed
    assert all(entry["age_seconds"] >= 0 for entry in sources.values())


def test_metrics_in_prometheus_format_equal_the_ledger_and_the_last_build(api):
    from prometheus_client.parser import text_string_to_metric_families

    status, body, headers = _get("/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain"), body
    assert _get("/metrics", user=None)[0] == 401
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    latest = _gold(
        """select source, rows_good, rows_bad from (
               select *, row_number() over (partition by source order by seq desc) as recency
               from bronze.ingestion_batches where status in ('committed', 'quarantined'))
           where recency = 1"""
    )
    assert len(latest) == 9
    for source, good, bad in latest:
        assert samples[("lakehouse_source_last_batch_rows", (("source", source),))] == good, source
        assert samples[("lakehouse_source_last_batch_bad_rows", (("source", source),))] == bad, source
        assert samples[("lakehouse_source_last_batch_duration_seconds", (("source", source),))] > 0
        assert samples[("lakehouse_source_last_batch_age_seconds", (("source", source),))] > 0
    for source, batch_status, batches in _gold(
        "select source, status, count(*) from bronze.ingestion_batches group by 1, 2"
    ):
        assert samples[("lakehouse_source_batches", (("source", source), ("status", batch_status)))] == batches
    for source in ("sales", "ad_events", "water_quality", "device_events"):  # every message is in bronze
        assert samples[("lakehouse_source_consumer_lag_messages", (("source", source),))] == 0
        assert samples[("lakehouse_source_consumer_lag_seconds", (("source", source),))] == 0
    assert samples[("lakehouse_service_up", (("service", "spark_connect"),))] == 1
    assert samples[("lakehouse_service_up", (("service", "kafka_1"),))] == 1
    ((models, failed),) = _gold(
        "select models, tests_failed from ops.dbt_builds where command = 'build' order by finished_at desc limit 1"
    )
    assert samples[("lakehouse_last_build_models", ())] == models and models > 0
    assert samples[("lakehouse_last_build_tests_failed", ())] == failed


def test_openapi_documents_every_endpoint(api):
    status, spec, _ = _get("/openapi.json", user=None)
    assert status == 200
    assert {"/gold/fct_order_lines", "/silver/transactions", "/ledger", "/quarantine", "/health"} <= set(spec["paths"])
    assert "amount_eur" in spec["paths"]["/gold/fct_order_lines"]["get"]["description"]


# -- dashboard ------------------------------------------------------------------------------------


def _metric(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]', has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _open(browser_page, url: str, charts: bool = True) -> None:
    browser_page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    browser_page.wait_for_selector('[data-testid="stMetric"]', timeout=180_000)
    if charts:
        browser_page.wait_for_selector(".js-plotly-plot", timeout=180_000)
    browser_page.wait_for_timeout(1500)  # the last charts draw


def _cut_metrics(page) -> list[str]:
    """Metric values the window cuts (drawn with an ellipsis): their text is wider than their box."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=stMetricValue], [data-testid=stMetricValue] *')]
               .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""
    )


def test_every_dashboard_page_shows_gold(dashboard, chromium):
    revenue, sales = _gold("select sum(amount_eur), count(*) from gold.fct_order_lines where is_revenue")[0]
    (top_customer,) = _gold(
        """select coalesce(c.customer_name, concat('customer ', f.customer_id)) from gold.fct_order_lines f
           left join gold.dim_customers c on c.customer_id = f.customer_id
           where f.is_revenue and f.customer_id is not null
           group by f.customer_id, c.customer_name order by sum(f.amount_eur) desc, f.customer_id limit 1"""
    )[0]
    (requests,) = _gold("select sum(requests) from gold.agg_error_rate_by_hour")[0]
    (impressions, clicks) = _gold("select sum(impressions), sum(clicks) from gold.agg_ad_performance_by_campaign_day")[
        0
    ]
    (sources,) = _gold("select count(distinct source) from bronze.ingestion_batches where status = 'committed'")[0]
    ((builds,),) = _gold("select count(*) from ops.dbt_builds where command = 'build'")
    assert built_cli("alerts").returncode == 0
    alerts = [message for (message,) in _gold("select message from ops.alerts where resolved_at is null")]
    (outside, samples) = _gold(
        "select sum(samples_under_threshold + samples_over_threshold), sum(samples) "
        "from gold.agg_water_quality_by_site_parameter_month"
    )[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1800})
            for name, path in DASHBOARD_PAGES.items():
                _open(page, f"{dashboard}/{path}")
                assert "could not answer" not in page.content(), name
                assert page.locator(".js-plotly-plot").count() >= 1, name
                assert _cut_metrics(page) == [], name
                banners = page.locator('[data-testid="stAlert"]', has_text=" — ").all_inner_texts()
                assert len(banners) == len(alerts) and all(any(m in b for b in banners) for m in alerts), name
                page.screenshot(path=screenshot_path(f"dashboard_{name}.png"), full_page=True)
                if name == "commerce":
                    assert _metric(page, "Revenue (EUR)") == compact_eur(revenue)
                    assert _metric(page, "Sales") == f"{sales:,}"
                    assert _metric(page, "Average basket (EUR)") == compact_eur(Decimal(revenue) / sales)
                    assert _metric(page, "Top customer") == top_customer
                    assert "0 on a day without sales" in page.content()
                    assert "Customers by total spend" in page.content() and "loyal vs other" not in page.content()
                elif name == "web":
                    assert _metric(page, "Requests") == f"{requests:,}"
                elif name == "marketing":
                    assert _metric(page, "Impressions") == f"{impressions:,}"
                    assert _metric(page, "Clicks") == f"{clicks:,}"
                elif name == "water":
                    assert _metric(page, "Outside limits") == f"{outside / samples:.2%}"
                    assert "against its limits" in page.content()
                elif name == "operations":
                    assert _metric(page, "Builds recorded") == f"{builds:,}"
                    assert "Slowest dbt nodes" in page.content()
                elif name == "health":
                    assert _metric(page, "Sources with data") == str(sources)
                    assert "Last batches" in page.content()
                    # Drawn after the last batches, once the ledger's shapes are read. The corpus's
                    # `unknown_column.csv` gave transactions a new field today.
                    page.wait_for_selector("text=Sources whose shape changed in the last day", timeout=120_000)
                    assert re.search(r"Sources whose shape changed in the last day: [1-9]", page.content())
                    tests = page.locator('[data-testid="stMetric"]', has_text="dbt tests failing").inner_text()
                    assert re.search(r"\d+ of \d+\s+\d+ warning", tests), tests
                    # drawn last, once the page's queries have answered
                    page.wait_for_selector("text=Failing and warning tests of that run", timeout=120_000)
                    page.screenshot(path=screenshot_path("dashboard_health.png"), full_page=True)
        finally:
            browser.close()


def _sign_in(page, url: str, user: str, password: str) -> None:
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    page.get_by_role("textbox", name="User").fill(user)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _navigation(page) -> list[str]:
    return [text.strip() for text in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]


def test_the_dashboard_asks_who_you_are_and_shows_each_role_its_pages(signed_dashboard, chromium):
    """No page before a sign-in; a wrong password is refused; a viewer sees the gold pages with the
    top customer masked, an analyst also silver, an admin everything unmasked."""
    gold_pages = ["Commerce", "Web", "Marketing", "Social", "Water quality", "Devices"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1200})
            _sign_in(page, signed_dashboard, "vera", "not-her-passw0rd")
            page.get_by_text("Wrong user name or password.").wait_for(timeout=60_000)
            assert page.locator('[data-testid="stMetric"]').count() == 0
            assert page.locator(".js-plotly-plot").count() == 0

            seen = {}
            for user in ("vera", "ana", "ada"):
                page = browser.new_page(viewport={"width": 1280, "height": 1200})  # a session of its own
                _sign_in(page, signed_dashboard, user, USERS[user][1])
                page.wait_for_selector('[data-testid="stMetric"]', timeout=180_000)
                page.get_by_text(f"Signed in as {user} ({USERS[user][0]})").wait_for(timeout=60_000)
                seen[user] = (_navigation(page), _metric(page, "Top customer"))
        finally:
            browser.close()
    assert seen["vera"][0] == gold_pages
    assert seen["ana"][0] == [*gold_pages, "Silver"]
    assert seen["ada"][0] == [*gold_pages, "Silver", "Data health", "Operations"]
    assert not seen["ada"][1].startswith("masked:")
    assert seen["vera"][1].startswith("masked:") and seen["vera"][1] == seen["ana"][1]


def test_the_silver_page_pages_through_a_table_with_its_rejects_beside_it(dashboard, chromium):
    (matching,) = _gold("select count(*) from silver.slv_commerce__sales where cast(sale_id as string) like '%7%'")[0]
    (rejected,) = _gold("select count(*) from silver.slv_quality__rejects where source_name = 'sales'")[0]
    assert matching > 100 and rejected > 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            _open(page, f"{dashboard}/silver?table=slv_commerce__sales&column=sale_id&contains=7&page=2", charts=False)
            assert "could not answer" not in page.content()
            assert _metric(page, "Rows") == f"{matching:,}"
            assert _metric(page, "Rejected (sales)") == f"{rejected:,}"
            assert f"Page (of {-(-matching // 50):,}, 50 rows each)" in page.content()
            assert "silver.slv_commerce__sales, by sale_id" in page.content()
            assert "Rejected rows" in page.content()
            page.screenshot(path=screenshot_path("dashboard_silver.png"), full_page=True)
        finally:
            browser.close()


def test_kafka_batches_show_their_offsets_as_ranges(built):
    inputs = [
        row[0]
        for row in _gold(
            f"select {BATCH_INPUT} from bronze.ingestion_batches where source = 'sales' order by started_at"
        )
    ]
    assert inputs and all(re.fullmatch(r"p\d+ \d+(–\d+)?(, p\d+ \d+(–\d+)?)*", text) for text in inputs), inputs[:3]
    listed = built_cli("batches", "sales")
    assert listed.returncode == 0 and inputs[0] in listed.stdout


def test_a_filter_changes_the_commerce_figures(dashboard, chromium):
    (country, revenue, sales) = _gold(
        "select country_code, sum(amount_eur), count(*) from gold.fct_order_lines where is_revenue "
        "and country_code is not null group by 1 order by 3 desc limit 1"
    )[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            _open(page, f"{dashboard}/")
            page.locator('[data-testid="stMultiSelect"]', has_text="Country").first.click()
            page.get_by_role("option", name=country, exact=True).click()
            page.keyboard.press("Escape")
            page.wait_for_function(
                "([label, value]) => [...document.querySelectorAll('[data-testid=stMetric]')].some("
                "m => m.innerText.includes(label) && m.innerText.includes(value))",
                arg=["Sales", f"{sales:,}"],
                timeout=120_000,
            )
            assert _metric(page, "Revenue (EUR)") == compact_eur(revenue)
            page.screenshot(path=screenshot_path("dashboard_commerce_filtered.png"), full_page=True)
        finally:
            browser.close()


# -- everything at once ---------------------------------------------------------------------------


def test_dashboard_api_dagster_and_ad_hoc_sql_at_the_same_time(api, dashboard, chromium):
    errors: list[str] = []

    def api_clients() -> None:
        for _ in range(15):
            status, body, _ = _get("/gold/agg_requests_by_status_hour?sort=-requests&limit=100")
            if status != 200:
                errors.append(f"api: {status} {body}")

    def ad_hoc() -> None:
        for _ in range(5):
            try:
                assert _gold("select count(*) from silver.slv_commerce__transactions")[0][0] > 0
            except Exception as error:  # noqa: BLE001 (collected for the assertion below)
                errors.append(f"thrift: {error}")

    env = built_environment(DAGSTER_HOME=str(HOME / "dagster"))
    (HOME / "dagster").mkdir(exist_ok=True)
    dagster = subprocess.Popen(
        [str(PROJECT_ROOT / ".venv" / "bin" / "dagster") if (PROJECT_ROOT / ".venv" / "bin" / "dagster").exists() else "dagster",
         "asset", "materialize", "-m", "orchestration.definitions", "--select", "postgres/gold"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    threads = [threading.Thread(target=api_clients) for _ in range(3)] + [threading.Thread(target=ad_hoc)]
    for thread in threads:
        thread.start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            for name in ("", "health", "web"):
                _open(page, f"{dashboard}/{name}")
                assert "could not answer" not in page.content(), name
        finally:
            browser.close()
    for thread in threads:
        thread.join(timeout=600)
    assert [thread.name for thread in threads if thread.is_alive()] == []  # every client finished its requests
    output, _ = dagster.communicate(timeout=600)
    assert dagster.returncode == 0, output[-3000:]
    published_tables = set(re.findall(r"postgres__gold - ((?:gold|bronze)\.\w+): \d+ rows in", output))
    assert len(published_tables) == 14, output[-3000:]  # every gold table and the ledger
    assert errors == []
    published = _postgres("select count(*) from gold.agg_requests_by_status_hour")
    assert published == _gold("select count(*) from gold.agg_requests_by_status_hour")


@pytest.mark.parametrize(
    "command, port_setting, ready_path",
    [("api", "LAKEHOUSE_API_PORT", "/docs"), ("dashboard", "LAKEHOUSE_DASHBOARD_PORT", "/_stcore/health")],
)
def test_ctrl_c_stops_the_server_and_everything_it_started_within_20_s(built, command, port_setting, ready_path):
    port = int(BUILT_ENV[port_setting]) + 50  # beside the one the tests above use
    server = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", command],
        cwd=PROJECT_ROOT,
        env=built_environment(**{port_setting: str(port)}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        # Ctrl-C as in a terminal: a process started in the background of a script (CI) inherits SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}{ready_path}", timeout_s=180)
        started = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
        # The dashboard: the CLI and Streamlit; the API: uvicorn in the CLI's own process.
        assert len(started) >= (2 if command == "dashboard" else 1), [process.cmdline() for process in started]

        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C in the terminal
        gone, alive = psutil.wait_procs(started, timeout=20)

        assert [" ".join(process.cmdline()) for process in alive] == []
        assert [process.returncode for process in gone if process.pid == server.pid] in ([130], [0])
    finally:
        stop_process_group(server)
