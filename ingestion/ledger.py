"""The batch ledger of a source: the one truth of what the lakehouse holds and is working on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from ingestion import tables
from ingestion.errors import LakehouseError
from ingestion.plans import FilePlan, KafkaPlan, Plan, plan_from_json, plan_to_json
from ingestion.sources import Source

DONE = ("committed", "quarantined", "rolled_back", "unreadable")
"""A batch in one of these states needs no more work (`started` does; `abandoned` never will).
An `unreadable` batch lands nothing: it marks a damaged file version as skipped, with the reason."""


@dataclass
class Batch:
    batch_id: str
    source: str
    seq: int
    status: str
    plan: Plan
    rows_good: int | None = None
    rows_bad: int | None = None
    delta_version: int | None = None
    note: str | None = None

    def describe(self) -> str:
        """One line about the batch, for people."""
        extra = f" - {self.note}" if self.note and self.status != "committed" else ""
        return (
            f"batch {self.batch_id} {self.status}: {self.rows_good} rows to bronze, {self.rows_bad} quarantined "
            f"({self.plan.describe()}){extra}"
        )


def read_batches(spark: SparkSession, source: Source) -> list[Batch]:
    """The latest state of every batch of a source, oldest first (none before the first ingestion)."""
    if not tables.ledger_exists(spark):
        return []
    events = tables.read_events(spark, source.name)
    latest = sorted({row.batch_id: row for row in events}.values(), key=lambda row: row.seq)  # last event wins
    return [
        Batch(
            batch_id=row.batch_id,
            source=row.source,
            seq=row.seq,
            status=row.status,
            plan=plan_from_json(row.plan),
            rows_good=row.rows_good,
            rows_bad=row.rows_bad,
            delta_version=row.delta_version,
            note=row.note,
        )
        for row in latest
    ]


class Ledger:
    """A source's batches, read once; every change is appended as an event and kept here too."""

    def __init__(self, spark: SparkSession, source: Source) -> None:
        tables.ensure_tables(spark, source)
        self.spark, self.source = spark, source
        self.batches = read_batches(spark, source)
        self.interrupted = {batch.batch_id for batch in self.unfinished()}
        """Batches an earlier run started and did not finish: their records may be in bronze already."""

    def start(self, plan: Plan, note: str | None = None) -> Batch:
        """A new batch, `started`: its plan is in the ledger before anything is read."""
        seq = max((batch.seq for batch in self.batches), default=0) + 1
        batch = Batch(f"{self.source.name}-{seq:06d}", self.source.name, seq, "started", plan, note=note)
        self.record(batch)
        self.batches.append(batch)
        return batch

    def record(self, batch: Batch) -> None:
        tables.append_event(
            self.spark,
            (
                batch.batch_id,
                batch.source,
                batch.seq,
                batch.status,
                datetime.now(UTC),
                plan_to_json(batch.plan),
                batch.rows_good,
                batch.rows_bad,
                batch.delta_version,
                batch.note,
            ),
        )

    def find(self, batch_id: str) -> Batch:
        for batch in self.batches:
            if batch.batch_id == batch_id:
                return batch
        raise LakehouseError(f"no batch {batch_id} in the ledger of {self.source.name}", hint="see `lakehouse batches`")

    def unfinished(self) -> list[Batch]:
        """Batches planned but not finished (an interrupted run): re-run from their plans first."""
        return [batch for batch in self.batches if batch.status == "started"]


def file_progress(batches: list[Batch], name: str, sha256: str) -> int | None:
    """Where the next batch of this file version starts; None when the ledger holds all of it."""
    done = [
        b.plan
        for b in batches
        if isinstance(b.plan, FilePlan) and (b.plan.file, b.plan.sha256) == (name, sha256) and b.status in DONE
    ]
    if any(plan.eof for plan in done):
        return None
    return max((plan.start_record + plan.records for plan in done), default=0)


def kafka_positions(batches: list[Batch]) -> dict[int, int]:
    """Per partition, the offset up to which batches were planned (the next batch starts there)."""
    positions: dict[int, int] = {}
    for batch in batches:
        if isinstance(batch.plan, KafkaPlan):
            for r in batch.plan.ranges:
                positions[r.partition] = max(positions.get(r.partition, 0), r.end)
    return positions
