"""The fixed cost of a batch, on a warm server: prints figures, asserts nothing.

Tiny batches (20 records), so that what is measured is what every batch pays whatever its size:
- a CSV file per batch, N files in one run (`lakehouse ingest` over a landing folder);
- a run per batch (as the Dagster sensors do each round): a file, then a Kafka micro-batch, each
  run reading the ledger again;
- a Kafka micro-batch per round of one process that keeps its writers (`lakehouse run --follow`);
with where each run's time goes (the statements the library sends, timed where they are called).

    .venv/bin/python benchmarks/batch_cost.py --batches 20

It runs against the benchmarks' data home (.lakehouse/bench) and ports; it starts the services
when they are not running, and leaves them running.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.bench_env import CLI, ROOT, timed  # noqa: E402  (sets the environment first)
from ingestion import batch, files, ledger, tables, topics  # noqa: E402
from ingestion.batch import Options  # noqa: E402
from ingestion.sources import get_source  # noqa: E402
from ingestion.spark import connect  # noqa: E402
from lakehouse.samples.producer import produce  # noqa: E402
from lakehouse.settings import settings  # noqa: E402

HEADER = "transaction_id,customer_id,product_id,quantity,unit_price,currency,transaction_timestamp,country"
RECORDS = 20
STEPS: list[tuple[object, str]] = [
    (tables, "ensure_tables"),
    (tables, "read_events"),
    (tables, "recent_commits"),
    (tables, "latest_version"),
    (tables, "written_version"),
    (tables, "append_idempotent"),
    (tables, "append_event"),
    (tables, "batch_metrics"),
    (tables, "ledger_version"),
    (tables, "ledger_version_if_only_mine"),
    (files, "file_sha256"),
    (files, "line_file"),
    (files, "file_defect"),
    (topics, "TopicOffsets"),
]
spent: collections.Counter[str] = collections.Counter()


def _timed(module: object, name: str) -> None:
    """Count the seconds spent in `module.name`, wherever the library calls it from (a name
    this version of the library does not have is left out)."""
    function = getattr(module, name, None)
    if function is None:
        return

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started

    for holder in (module, batch, files, ledger, topics):
        if getattr(holder, name, None) is function:
            setattr(holder, name, wrapper)


def land(folder: Path, n: int) -> None:
    path = folder / f"f{n:04d}.csv"
    rows = (f"T{n}-{i},C1,101,1,2.5,EUR,2026-11-01T10:00:00Z,France" for i in range(RECORDS))
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    past = time.time() - 60
    os.utime(path, (past, past))


def measure(label: str, runs: int, one_run: Callable[[int], int]) -> None:
    spent.clear()
    started, batches = time.perf_counter(), 0
    for n in range(runs):
        batches += one_run(n)
    elapsed = time.perf_counter() - started
    print(f"{label:<34} {batches:>4} batches {elapsed:>7.2f} s {elapsed / batches:>6.2f} s per batch", flush=True)
    for name, seconds in spent.most_common():
        print(f"{'':<36}{name:<20} {seconds / batches:>6.3f} s per batch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    timed([*CLI, "up"])
    for module, name in STEPS:
        _timed(module, name)
    spark = connect()
    stamp = int(time.time())
    file_source = dataclasses.replace(get_source("transactions"), name=f"batch_cost_files_{stamp}")
    folder = Path(settings().landing) / file_source.name
    folder.mkdir(parents=True, exist_ok=True)
    land(folder, 0)
    files.ingest_files(spark, file_source, Options(settle_seconds=0))  # its tables created, untimed

    def many_files(_: int) -> int:
        for n in range(1, args.batches + 1):
            land(folder, n)
        return len(files.ingest_files(spark, file_source, Options(settle_seconds=0)))

    def one_file(n: int) -> int:
        land(folder, 10_000 + n)
        return len(files.ingest_files(spark, file_source, Options(settle_seconds=0)))

    kafka_source = dataclasses.replace(get_source("device_events"), name=f"batch_cost_kafka_{stamp}")
    kafka_source = dataclasses.replace(kafka_source, topic=kafka_source.name)
    message = b'{"device_id": "THE-0001", "device_type": "thermostat", "event_type": "temperature", '
    message += b'"value": 21.5, "event_timestamp": "2026-11-01T10:00:00Z"}'
    produce(kafka_source.topic, [message] * RECORDS, progress=False)
    topics.ingest_topic(spark, kafka_source, Options())  # its tables created, untimed

    def one_micro_batch(_: int) -> int:
        produce(kafka_source.topic, [message] * RECORDS, progress=False)
        return len(topics.ingest_topic(spark, kafka_source, Options()))

    kept = getattr(batch, "Writers", None)
    writers = kept() if kept else None

    def one_round(_: int) -> int:
        produce(kafka_source.topic, [message] * RECORDS, progress=False)
        return len(topics.ingest_topic(spark, kafka_source, Options(), writers=writers))

    print(f"fixed cost of a batch of {RECORDS} records, warm server, data home {settings().home}")
    measure("files, all in one run", 1, many_files)
    measure("files, a run per batch", args.batches, one_file)
    measure("Kafka, a run per micro-batch", args.batches, one_micro_batch)
    if writers is not None:  # a library from before kept no writers
        measure("Kafka, rounds keeping the writer", args.batches, one_round)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
