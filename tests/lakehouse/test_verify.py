"""`lakehouse verify` on a data home of its own: the sample data and the malformed corpus, ingested
and built, agree with DuckDB's recomputation of every gold table; a changed gold value and a missing
gold row are caught. Everything through the CLI, as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.config import PROJECT_ROOT, side_by_side_environment
from tests.ingestion.test_malformed_corpus import FILES, send_messages

pytestmark = pytest.mark.verify

VERIFY_ENV = {
    **side_by_side_environment("verify", port_offset=40000),
    "LAKEHOUSE_CACHE": os.environ["LAKEHOUSE_CACHE"],
    "LAKEHOUSE_INGEST_SETTLE_SECONDS": "0",
}
HOME = Path(VERIFY_ENV["LAKEHOUSE_HOME"])
VERIFY_ENV["DBT_TARGET_PATH"] = str(HOME / "dbt" / "target")
VERIFY_ENV["DBT_LOG_PATH"] = str(HOME / "dbt" / "logs")


def _cli(*args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        cwd=PROJECT_ROOT,
        env={**base, **VERIFY_ENV},
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def built():
    """Sample data and the corpus, ingested and built on fresh services; stopped at the end."""
    _cli("down")
    shutil.rmtree(HOME, ignore_errors=True)
    try:
        assert _cli("up").returncode == 0
        assert _cli("generate", "--rows", "1500").returncode == 0
        for case in FILES:
            folder = HOME / "landing" / case.source
            folder.mkdir(parents=True, exist_ok=True)
            content = case.content.encode() if isinstance(case.content, str) else case.content
            (folder / f"corpus_{case.name}").write_bytes(content)
        send_messages(f"127.0.0.1:{VERIFY_ENV['LAKEHOUSE_KAFKA_PORT']}")
        ingest = _cli("ingest")
        yield ingest
    finally:
        _cli("down")


def test_ingest_names_each_unreadable_file_and_lands_the_rest(built):
    unreadable = [f"corpus_{case.name}" for case in FILES if case.unreadable]
    assert built.returncode == 1
    assert f"{len(unreadable)} file(s) could not be read" in built.stderr
    assert all(name in built.stderr for name in unreadable)
    assert "Traceback" not in built.stderr
    assert "sales: " in built.stdout and "transactions: " in built.stdout  # every source was ingested


def test_gold_agrees_with_the_recomputation_and_a_difference_is_caught(built):
    build = _cli("dbt", "build")
    assert build.returncode == 0, build.stdout[-4000:]

    verified = _cli("verify")
    assert verified.returncode == 0, verified.stdout[-4000:] + verified.stderr[-2000:]
    assert "every gold table agrees with the recomputation" in verified.stdout
    lines = {
        line.split()[0]: line.split()[1:]
        for line in verified.stdout.splitlines()
        if line.startswith(("fct_", "agg_", "dim_"))
    }
    assert len(lines) == 13
    gold_rows, recomputed, equal, different, only_gold, only_recomputed = map(int, lines["fct_order_lines"])
    assert gold_rows == recomputed == equal > 1000 and different == only_gold == only_recomputed == 0

    changed = _cli(
        "sql",
        "-e",
        "update gold.fct_order_lines set amount_eur = amount_eur + 0.01 where order_line_id = 'T-T1'; "
        "delete from gold.dim_products where product_id = 101",
    )
    assert changed.returncode == 0, changed.stderr[-2000:]
    caught = _cli("verify")
    assert caught.returncode == 1
    assert "fct_order_lines: T-T1: amount_eur: 2.51 (gold) vs 2.5" in caught.stdout
    assert "dim_products: 101: only recomputed" in caught.stdout
    assert "2 gold table(s) differ from the recomputation: dim_products, fct_order_lines" in caught.stderr
