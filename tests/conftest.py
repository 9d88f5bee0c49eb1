"""Test-wide setup: a data home and ports of their own, and the real services started once.

The tests never touch the user's `.lakehouse` state or ports: they run under `.lakehouse/test`
on ports beside the defaults, and share only the jar cache. Services are stopped at the end,
also when a test fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingestion.config import PROJECT_ROOT
from lakehouse.settings import SIDE_BY_SIDE_PORT_OFFSETS, side_by_side_environment

# `make test` runs the suite in two lanes (pytest-xdist workers, see pytest_xdist_make_scheduler):
# each worker has a test home and ports of its own, so that neither stops nor wipes the other's.
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
TEST_ENV = (
    side_by_side_environment("test")
    if WORKER == 0
    else side_by_side_environment(f"test-{WORKER}", port_offset=max(SIDE_BY_SIDE_PORT_OFFSETS.values()) + 100 * WORKER)
)
# Daemons started by tests do not publish gold to PostgreSQL after their builds (test_serving does).
TEST_ENV["LAKEHOUSE_PUBLISH_AFTER_BUILD"] = "false"
os.environ.update(TEST_ENV)
os.environ.setdefault("LAKEHOUSE_CACHE", str(PROJECT_ROOT / ".lakehouse" / "cache"))
for name in [name for name in os.environ if name.startswith("LAKEHOUSE_") and name not in TEST_ENV]:
    if name not in ("LAKEHOUSE_CACHE", "LAKEHOUSE_MAVEN_MIRROR"):
        del os.environ[name]

from lakehouse.settings import settings  # noqa: E402  (after the environment is set)

# dbt's artifacts and logs stay in the test data home: a user's `target/` is left alone.
DBT_TARGET = settings().home / "dbt" / "target"
os.environ["DBT_TARGET_PATH"] = str(DBT_TARGET)
os.environ["DBT_LOG_PATH"] = str(settings().home / "dbt" / "logs")
from lakehouse.services.kafka import KafkaBroker  # noqa: E402
from lakehouse.services.spark_server import SparkServer  # noqa: E402

BESIDE_LANE = {
    "tests/lakehouse/test_alerts.py",
    "tests/lakehouse/test_build_changes.py",
    "tests/lakehouse/test_serving.py",
    "tests/lakehouse/test_verify.py",
    "tests/lakehouse/test_cluster_mode.py",
    "tests/lakehouse/test_s3_warehouse.py",
    "tests/orchestration/test_live.py",
}
"""The suites of the lakehouses beside the test home: the built one (tests/lakehouse/conftest.py) and
the cluster and S3 ones that compare with it, and the live loop. They need none of the test home's
services, and together take about as long as the rest, which runs on the test home. A new module that
uses the `built` fixture belongs here: set up in both lanes, it would start twice on the same ports."""


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Two lanes for `pytest -n 2`: one worker takes the lakehouses beside the test home, the other
    the test home; within a lane the tests keep their order and their fixtures. (A scheduler of our
    own rather than xdist_group marks: pytest-xdist 3.8 cannot rename pytest 9's node ids.)"""
    from xdist.scheduler import LoadScopeScheduling

    class Lanes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "beside" if nodeid.split("::")[0] in BESIDE_LANE else "home"

    return Lanes(config, log)


def lakehouse_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the `lakehouse` CLI as a user would, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def dbt_cli(*args: str) -> subprocess.CompletedProcess:
    dbt = str(Path(sys.executable).parent / "dbt")
    # A Spark Connect client in this process sets SPARK_CONNECT_MODE_ENABLED, which would turn
    # dbt's embedded (classic) session into a Connect client.
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    return subprocess.run([dbt, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session", autouse=True)
def fresh_test_home():
    """Every test session starts from an empty data home (leftovers of an aborted run are stopped)."""
    lakehouse_cli("down")
    shutil.rmtree(settings().home, ignore_errors=True)
    yield
    lakehouse_cli("down")  # also what a test's Dagster daemon started (PostgreSQL, for the published gold)


def _started(service_name: str) -> None:
    # Started through the CLI, as users do, so the service is not a child of the test process.
    result = lakehouse_cli(service_name, "start")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="session")
def kafka() -> KafkaBroker:
    broker = KafkaBroker(settings())
    _started("kafka")
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def spark_server() -> SparkServer:
    server = SparkServer(settings())
    _started("spark")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def thrift(spark_server: SparkServer):
    """A function running one SQL statement over Thrift/JDBC (PyHive) and returning its rows."""
    from pyhive import hive

    def run(sql: str) -> list[tuple]:
        if not spark_server.status().running:
            _started("spark")
        connection = hive.connect(host=settings().spark_host, port=settings().thrift_port, username="tests")
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    return run


def answering_session():
    """The process's Spark Connect session to the test server, opened again when the server
    restarted since this process last used it (that session ended with it)."""
    import contextlib

    from ingestion.errors import service_lost
    from ingestion.spark import connect

    session = connect()
    try:
        session.range(1).collect()
    except service_lost():
        with contextlib.suppress(Exception):  # the server that knew it is gone
            session.stop()
        session = connect()
    return session


@pytest.fixture(scope="module")
def spark(spark_server):
    """A Spark Connect session to the test server (one per module: servers restart in between)."""
    session = answering_session()
    yield session
    session.stop()


def own_source(name: str, suffix: str):
    """A copy of a declared source under a name (and, for Kafka, a topic) of its own: its own landing
    folder, bronze tables and ledger rows, so that what a test counts is what it sent, whatever other
    tests landed in the original and in whatever order they ran. `bronze.quarantine` shows it too."""
    from dataclasses import replace

    from ingestion.sources import get_source

    source = get_source(name)
    copy = f"{name}_{suffix}"
    return replace(source, name=copy, topic=copy if source.topic else None)


def land(source: str, name: str, content: bytes | str, settled: bool = True) -> Path:
    """Put a file in a source's landing folder, as a finished upload (or one still being written)."""
    folder = Path(settings().landing) / source
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    if settled:
        past = time.time() - 60
        os.utime(path, (past, past))
    return path


def rows(spark, sql: str) -> list[tuple]:
    return [tuple(row) for row in spark.sql(sql).collect()]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, which `make test` installs (Playwright cannot download its own browser here)."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Chromium is not installed: run the tests with `make test` (it installs it) or set CHROMIUM"
    return path


def wait_for_http(url: str, timeout_s: float = 120) -> None:
    """Poll `url` until it answers (a server started in the background)."""
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def screenshot_path(name: str) -> Path:
    """Where browser tests leave their screenshots (kept after the run, under the test data home)."""
    folder = settings().home.parent / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def xlsx_bytes(records: list[dict]) -> bytes:
    """A workbook with a header row and one row per record, as bytes to `land`."""
    import io

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(records[0]))
    for record in records:
        sheet.append(list(record.values()))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def stop_process_group(process: subprocess.Popen, grace_s: float = 30) -> None:
    """Stop a command started with `start_new_session=True` and everything it started."""
    import contextlib
    import signal

    with contextlib.suppress(ProcessLookupError):  # already stopped, by a test
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children that outlived their parent
    process.wait(timeout=grace_s)
