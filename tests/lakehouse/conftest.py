"""A lakehouse of its own, built once for the suites that look at finished gold (`lakehouse verify`,
the dashboard, the API, PostgreSQL): sample data and the malformed corpus, ingested and built by
`lakehouse run` on fresh services under `.lakehouse/built`, ports +400; stopped at the end, also on
failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingestion.config import PROJECT_ROOT
from lakehouse.settings import side_by_side_environment
from tests.ingestion.test_malformed_corpus import FILES, send_messages

BUILT_ENV = {
    **side_by_side_environment("built"),
    "LAKEHOUSE_CACHE": os.environ["LAKEHOUSE_CACHE"],
    "LAKEHOUSE_INGEST_SETTLE_SECONDS": "0",
}
HOME = Path(BUILT_ENV["LAKEHOUSE_HOME"])
BUILT_ENV["DBT_TARGET_PATH"] = str(HOME / "dbt" / "target")
BUILT_ENV["DBT_LOG_PATH"] = str(HOME / "dbt" / "logs")


def built_environment(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    return {**base, **BUILT_ENV, **extra}


def built_cli(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
    """The `lakehouse` CLI against the built lakehouse, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        cwd=PROJECT_ROOT,
        env=built_environment(**extra_env),
        capture_output=True,
        text=True,
        timeout=900,
    )


def built_sql(statement: str) -> list[tuple]:
    """One statement on the built lakehouse over Thrift, as a BI tool would send it; its rows, if any."""
    from pyhive import hive

    connection = hive.connect(host="127.0.0.1", port=int(BUILT_ENV["LAKEHOUSE_THRIFT_PORT"]), username="tests")
    try:
        cursor = connection.cursor()
        cursor.execute(statement)
        return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


@dataclass(frozen=True)
class Built:
    run: subprocess.CompletedProcess
    """`lakehouse run`'s output: its ingestion, its build and its gold checksums."""


@contextmanager
def fresh_services(cli: Callable[..., subprocess.CompletedProcess], home: Path) -> Iterator[None]:
    """A side-by-side lakehouse's services started on an empty data home, and stopped at the end,
    also on failure (leftovers of an aborted run are stopped first)."""
    cli("down")
    shutil.rmtree(home, ignore_errors=True)
    try:
        up = cli("up")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield
    finally:
        cli("down")


@pytest.fixture(scope="package")
def built() -> Built:
    """`lakehouse run`, the main job, on a data home that `lakehouse clean` wiped, with the sample
    data and the malformed corpus waiting in the landing zone and the topics."""
    built_cli("down")  # leftovers of an aborted run
    cleaned = built_cli("clean")
    assert cleaned.returncode == 0, cleaned.stderr
    try:
        assert built_cli("kafka", "start").returncode == 0  # the topics receive the input first
        assert built_cli("generate", "--rows", "1500").returncode == 0
        for case in FILES:
            folder = HOME / "landing" / case.source
            folder.mkdir(parents=True, exist_ok=True)
            content = case.content.encode() if isinstance(case.content, str) else case.content
            (folder / f"corpus_{case.name}").write_bytes(content)
        send_messages(f"127.0.0.1:{BUILT_ENV['LAKEHOUSE_KAFKA_PORT']}")
        run = built_cli("run", "--rows", "1500")
        assert "Gold (rows and an order-independent checksum" in run.stdout, run.stdout[-4000:] + run.stderr[-3000:]
        yield Built(run)
    finally:
        built_cli("down")
