"""The dbt docs site, served by `lakehouse docs`, draws the lineage from bronze sources to gold."""

from __future__ import annotations

import os
import subprocess
import sys

from playwright.sync_api import sync_playwright

from lakehouse.settings import settings
from tests.conftest import PROJECT_ROOT, screenshot_path, stop_process_group, wait_for_http

GOLD = {
    "fct_order_lines", "agg_sales_by_product_day", "agg_sales_by_product", "agg_spend_by_customer",
    "agg_revenue_by_country_category_segment", "agg_ad_performance_by_campaign_day", "agg_requests_by_status_hour",
    "agg_error_rate_by_hour", "agg_engagement_by_product", "agg_water_quality_by_site_parameter_month",
    "agg_device_events_by_type_minute",
}  # fmt: skip

GRAPH = """() => {
    const cy = document.querySelector('#cy')._cyreg.cy;
    return {
        nodes: cy.nodes().map(node => node.data('label')),
        edges: cy.edges().map(edge => [edge.source().data('label'), edge.target().data('label')]),
    };
}"""


def _reachable(edges: list[list[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for source, target in edges:
            if source == node and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_lineage_page_shows_sources_flowing_to_gold(spark_server, chromium):
    docs = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "docs"],
        cwd=PROJECT_ROOT,
        env={k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # dbt serves from a child process: stop the whole group
    )
    url = f"http://127.0.0.1:{settings().docs_port}"
    try:
        wait_for_http(url, timeout_s=300)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
            )
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{url}/#!/overview?g_v=1")
            page.wait_for_function("() => document.querySelector('#cy')?._cyreg?.cy?.nodes().length > 0")
            page.wait_for_timeout(2000)  # the layout settles
            page.screenshot(path=screenshot_path("dbt-lineage.png"))
            graph = page.evaluate(GRAPH)
            browser.close()
    finally:
        stop_process_group(docs)

    assert set(graph["nodes"]) >= GOLD
    assert {f"bronze.{name}" for name in ("transactions", "sales", "server_logs", "water_quality")} <= set(
        graph["nodes"]
    )
    assert {"fct_order_lines", "agg_spend_by_customer"} <= _reachable(graph["edges"], "bronze.sales")
    assert "agg_water_quality_by_site_parameter_month" in _reachable(graph["edges"], "bronze.water_sites")
    for source in [label for label in graph["nodes"] if label.startswith("bronze.")]:
        assert _reachable(graph["edges"], source) & GOLD, f"{source} does not lead to gold"
