"""Send messages to Kafka: generated sample streams, or a file replayed in batches."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

from ingestion import kafka_client
from ingestion.errors import LakehouseError


def produce(
    topic: str,
    values: Iterable[bytes],
    total: int | None = None,
    rate: float | None = None,
    progress: bool = True,
) -> int:
    """Send every value to `topic` (at most `rate` messages per second); return how many."""
    producer = kafka_client.producer()
    sent, started = 0, time.monotonic()
    bar = tqdm(total=total, desc=topic, unit="msg", disable=not progress, leave=False)
    try:
        for value in values:
            producer.send(topic, value=value)
            sent += 1
            bar.update(1)
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        producer.flush()
    finally:
        bar.close()
        producer.close()
    return sent


def file_rows(path: Path) -> Iterator[dict]:
    """Rows of a CSV, JSON-lines or Excel file, as dicts."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            sample = handle.readline()
            handle.seek(0)
            if sample.startswith("\ufeff"):
                handle.read(1)
            delimiter = ";" if sample.count(";") > sample.count(",") else ","
            yield from csv.DictReader(handle, delimiter=delimiter)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)
    elif suffix == ".xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = [str(name) for name in next(rows)]
        for row in rows:
            if any(value is not None for value in row):
                yield {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(header, row, strict=False)}
        workbook.close()
    else:
        raise LakehouseError(f"cannot replay {path}: unknown format {suffix!r}", hint="use .csv, .jsonl or .xlsx")


def replay_file(topic: str, path: Path, batch_size: int, pause_s: float) -> int:
    """Send a file's rows to a topic in batches of `batch_size`, pausing between batches
    (as monitoring stations upload: 100 rows, then a pause)."""
    if not path.exists():
        raise LakehouseError(f"{path} does not exist")
    producer = kafka_client.producer()
    sent = 0
    try:
        batch: list[dict] = []
        for row in file_rows(path):
            batch.append(row)
            if len(batch) == batch_size:
                sent += _send_batch(producer, topic, batch)
                batch = []
                time.sleep(pause_s)
        sent += _send_batch(producer, topic, batch)
    finally:
        producer.close()
    return sent


def _send_batch(producer, topic: str, rows: list[dict]) -> int:
    for row in rows:
        producer.send(topic, value=json.dumps(row, ensure_ascii=False, default=str).encode("utf-8"))
    producer.flush()
    if rows:
        print(f"{topic}: sent a batch of {len(rows)} rows", flush=True)
    return len(rows)
