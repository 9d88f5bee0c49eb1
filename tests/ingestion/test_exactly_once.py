"""A file batch lands exactly once under kill -9 at every crash point of the one-pass write, and a
batch quarantined whole is never visible to a reader, not even between its bronze commit and its
ledger event. (The same for a Kafka batch: `test_bronze_kafka.py`.)"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from ingestion.sources import get_source
from tests.conftest import PROJECT_ROOT, rows

HEADER = "transaction_id,customer_id,product_id,quantity,unit_price,currency,transaction_timestamp,country"
SOURCE = get_source("transactions")


def _csv(name: str, records: int, bad_every: int) -> str:
    """`records` order lines; every `bad_every`-th has a quantity that is not an integer."""
    lines = [HEADER]
    for n in range(records):
        quantity = "many" if bad_every and n % bad_every == 0 else str(n % 7 + 1)
        lines.append(f"{name}-{n},C{n % 50:05d},{100 + n % 9},{quantity},2.50,EUR,2026-11-01T10:00:00Z,France")
    return "\n".join(lines) + "\n"


def _ingest(landing: Path, crash_at: str | None = None) -> subprocess.Popen:
    env = {**__import__("os").environ, "LAKEHOUSE_LANDING": str(landing)}
    if crash_at:
        env["LAKEHOUSE_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "ingest", "transactions"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _land(landing: Path, name: str, content: str) -> None:
    folder = landing / "transactions"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(content)
    past = time.time() - 60
    __import__("os").utime(path, (past, past))


def _seen(spark, file: str) -> tuple[int, int, int]:
    """(records in bronze's table of all records, good records readers see, quarantined records) of a file."""
    return rows(
        spark,
        f"""select
            (select count(*) from {SOURCE.all_records} where _source_file = '{file}'),
            (select count(*) from {SOURCE.table} where _source_file = '{file}'),
            (select count(*) from bronze.quarantine where source = '{SOURCE.name}' and source_file = '{file}')""",
    )[0]


def test_a_file_batch_lands_once_when_killed_at_each_crash_point(spark, tmp_path):
    _land(tmp_path, "once_a.csv", _csv("A", 3000, bad_every=100))
    _land(tmp_path, "once_b.csv", _csv("B", 2000, bad_every=0))

    # Killed after its bronze commit: the records are in bronze, no reader sees them.
    first = _ingest(tmp_path, "after_bronze_write")
    first.wait(timeout=300)
    assert first.returncode == -signal.SIGKILL, first.stdout.read()
    assert _seen(spark, "once_a.csv") == (3000, 0, 0)
    # The next run finds the batch in bronze's history and records it, with its counts from bronze;
    # killed right after that ledger event.
    second = _ingest(tmp_path, "after_ledger_commit")
    second.wait(timeout=300)
    assert second.returncode == -signal.SIGKILL, second.stdout.read()
    # Then kill -9 at random moments of the next file's batch.
    rng = random.Random(3)
    for _ in range(3):
        killed = _ingest(tmp_path)
        time.sleep(rng.uniform(2, 8))
        killed.kill()
        killed.wait()
    finished = _ingest(tmp_path)
    output, _ = finished.communicate(timeout=300)
    assert finished.returncode == 0, output

    assert _seen(spark, "once_a.csv") == (3000, 2970, 30)
    assert _seen(spark, "once_b.csv") == (2000, 2000, 0)
    assert rows(
        spark,
        f"select count(distinct _source_line), min(_source_line), max(_source_line) from {SOURCE.all_records} "
        "where _source_file = 'once_a.csv'",
    ) == [(3000, 2, 3001)]
    assert rows(
        spark,
        "select file_name, status, rows_good, rows_bad from bronze.ingestion_batches "
        "where file_name in ('once_a.csv', 'once_b.csv') order by file_name",
    ) == [("once_a.csv", "committed", 2970, 30), ("once_b.csv", "committed", 2000, 0)]
    # One ledger event per batch, with the Delta version that holds it and when it started.
    assert rows(
        spark,
        "select count(*), count(distinct batch_id), count(delta_version), count(started_at) "
        "from bronze.ingestion_batch_events where get_json_object(plan, '$.file') in ('once_a.csv', 'once_b.csv')",
    ) == [(2, 2, 2, 2)]


def test_a_batch_quarantined_whole_is_never_visible_to_a_reader(spark, tmp_path):
    _land(tmp_path, "whole_batch_bad.csv", _csv("Q", 400, bad_every=2))

    killed = _ingest(tmp_path, "after_bronze_write")
    killed.wait(timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stdout.read()
    assert _seen(spark, "whole_batch_bad.csv") == (400, 0, 0)

    # A reader polls while the next run records the batch: it sees nothing, then the whole batch in quarantine.
    resumed = _ingest(tmp_path)
    seen = set()
    while resumed.poll() is None:
        seen.add(_seen(spark, "whole_batch_bad.csv"))
    assert resumed.returncode == 0, resumed.stdout.read()
    seen.add(_seen(spark, "whole_batch_bad.csv"))

    assert seen <= {(400, 0, 0), (400, 0, 400)}
    assert _seen(spark, "whole_batch_bad.csv") == (400, 0, 400)
    reasons = dict(
        rows(
            spark,
            "select reason like 'batch % quarantined whole: 200 of 400 records bad (50%)%', count(*) "
            f"from bronze.quarantine where source = '{SOURCE.name}' and source_file = 'whole_batch_bad.csv' group by 1",
        )
    )
    assert reasons == {True: 200, False: 200}  # the good records carry the batch's reason, the bad their own
