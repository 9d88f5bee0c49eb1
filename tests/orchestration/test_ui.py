"""`lakehouse ui` serves Dagster on 127.0.0.1: the asset graph renders in a real browser, and a
materialisation launched through the GraphQL API succeeds."""

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from playwright.sync_api import sync_playwright

from ingestion.config import settings
from tests.conftest import PROJECT_ROOT, screenshot_path, stop_process_group, wait_for_http

LOCATION_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
RUN_STATUS = "query Run($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture(scope="module")
def dagster_ui(kafka, spark_server):
    ui = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "ui"],
        cwd=PROJECT_ROOT,
        env={k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # dagster dev runs the webserver and the daemon as children
    )
    url = f"http://127.0.0.1:{settings().dagster_port}"
    try:
        wait_for_http(f"{url}/server_info", timeout_s=300)
        yield url
    finally:
        stop_process_group(ui)


def test_asset_graph_shows_the_layers(dagster_ui, chromium):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_page(viewport={"width": 1800, "height": 1100})
        page.goto(f"{dagster_ui}/asset-groups", timeout=120_000)
        for group in ("bronze", "silver", "gold"):
            page.get_by_text(group, exact=True).first.wait_for(timeout=120_000)
        page.wait_for_timeout(3000)  # the graph layout settles
        skip = page.get_by_role("button", name="Skip")  # the first-visit newsletter dialog
        if skip.count():
            skip.click()
        page.screenshot(path=screenshot_path("dagster-asset-graph.png"))
        text = page.inner_text("body")
        browser.close()
    for group in ("landing", "bronze", "reference", "staging", "silver", "gold"):
        assert group in text


def test_a_materialisation_launched_over_graphql_succeeds(dagster_ui, spark):
    location = _graphql(dagster_ui, LOCATION_QUERY)["workspaceOrError"]["locationEntries"][0]["name"]
    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": "__repository__",
            "jobName": "__ASSET_JOB",
            "assetSelection": [
                {"path": ["reference", "countries"]},
                {"path": ["staging", "stg_reference__country_aliases"]},
            ],
        },
        "mode": "default",
        # Built even when nothing they read changed since the last build (which this suite's data
        # home may hold): the point is the launch, not the incremental choice.
        "runConfigData": {"ops": {"lakehouse_dbt_models": {"config": {"only_what_changed": False}}}},
    }
    launched = _graphql(dagster_ui, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    deadline, status = time.monotonic() + 600, None
    while time.monotonic() < deadline:
        status = _graphql(dagster_ui, RUN_STATUS, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(3)
    assert status == "SUCCESS"
    assert (
        spark.sql("select count(*) from staging.stg_reference__country_aliases where country_code = 'BE'").collect()[0][
            0
        ]
        == 3
    )
