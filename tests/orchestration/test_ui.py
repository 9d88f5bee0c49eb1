"""`lakehouse ui` serves Dagster on 127.0.0.1: the asset graph renders in a real browser, a
materialisation launched through the GraphQL API succeeds, and Ctrl-C leaves no process behind."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from playwright.sync_api import sync_playwright

from lakehouse.build.dagster_instance import dagster_home
from lakehouse.settings import settings
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


def _start_ui() -> subprocess.Popen:
    """`lakehouse ui` as a terminal runs it: in a process group of its own, the terminal's."""
    return subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "ui"],
        cwd=PROJECT_ROOT,
        env={k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        # Ctrl-C as in a terminal: a process started in the background of a script (CI) inherits SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.fixture(scope="module")
def ui_processes(kafka, spark_server):
    """Every `lakehouse ui` the module started; all stopped at its end, also on failure."""
    started: list[subprocess.Popen] = []
    try:
        yield started
    finally:
        for ui in started:
            stop_process_group(ui)


@pytest.fixture
def ui_process(ui_processes):
    """The module's `lakehouse ui`, started again when a test stopped it (the Ctrl-C test does), so
    that the tests pass in any order."""
    if not ui_processes or ui_processes[-1].poll() is not None:
        ui_processes.append(_start_ui())
    return ui_processes[-1]


@pytest.fixture
def dagster_ui(ui_process):
    url = f"http://127.0.0.1:{settings().dagster_port}"
    wait_for_http(f"{url}/server_info", timeout_s=300)
    return url


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


def test_ctrl_c_stops_the_ui_and_everything_it_started_within_20_s(ui_process, dagster_ui):
    """It stops the module's UI (the next test that needs one starts it again)."""
    started = [psutil.Process(ui_process.pid), *psutil.Process(ui_process.pid).children(recursive=True)]
    names = " ".join(" ".join(process.cmdline()) for process in started)
    assert "dagster dev" in names or "dagster-webserver" in names, names
    assert len(started) >= 4  # the CLI, `dagster dev`, its webserver and daemon (and code servers)

    os.killpg(ui_process.pid, signal.SIGINT)  # Ctrl-C in the terminal
    gone, alive = psutil.wait_procs(started, timeout=20)

    assert [" ".join(process.cmdline()) for process in alive] == []
    # psutil reaped the CLI, so its exit code is psutil's to tell (Popen would see 0).
    assert [process.returncode for process in gone if process.pid == ui_process.pid] == [130]
    # A run that the stop interrupted is failed, not left in progress holding the dbt pool for ever.
    instance = DagsterInstance.from_config(str(dagster_home()))
    in_progress = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    assert instance.get_runs(RunsFilter(statuses=in_progress)) == []
    assert instance.event_log_storage.get_concurrency_info("dbt").claimed_slots == []
