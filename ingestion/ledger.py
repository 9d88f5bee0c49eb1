"""The batch ledger of a source: the one truth of what the lakehouse holds and is working on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import Row, SparkSession

from ingestion import tables
from ingestion.batch_status import DONE, BatchStatus
from ingestion.errors import LakehouseError
from ingestion.plans import FilePlan, KafkaPlan, Plan, plan_from_json, plan_to_json
from ingestion.sources import Source


@dataclass
class Batch:
    batch_id: str
    source: str
    seq: int
    status: BatchStatus
    plan: Plan
    rows_good: int | None = None
    rows_bad: int | None = None
    delta_version: int | None = None
    note: str | None = None
    started_at: datetime | None = None
    shape: str | None = None
    """The fields its records carried and their types (`shapes.Shape`, as JSON)."""
    shape_changes: list[str] = field(default_factory=list)
    """What its shape brought that the source's batches before it never had (`shapes.ShapeHistory`),
    known to the run that wrote it only."""

    @property
    def file_plan(self) -> FilePlan:
        """The plan of a file batch."""
        if not isinstance(self.plan, FilePlan):
            raise TypeError(f"batch {self.batch_id} reads Kafka, not a file")
        return self.plan

    @property
    def kafka_plan(self) -> KafkaPlan:
        """The plan of a Kafka batch."""
        if not isinstance(self.plan, KafkaPlan):
            raise TypeError(f"batch {self.batch_id} reads a file, not Kafka")
        return self.plan

    def describe(self) -> str:
        """One line about the batch, for people."""
        extra = f" - {self.note}" if self.note and self.status != BatchStatus.COMMITTED else ""
        return (
            f"batch {self.batch_id} {self.status}: {self.rows_good} rows to bronze, {self.rows_bad} quarantined "
            f"({self.plan.describe()}){extra}"
        )


def read_batches(spark: SparkSession, source: Source) -> list[Batch]:
    """The latest state of every batch of a source, oldest first (none before the first ingestion)."""
    return read_batches_of(spark, [source.name])[source.name]


def read_batches_of(spark: SparkSession, source_names: list[str]) -> dict[str, list[Batch]]:
    """`read_batches` of several sources, in one read of the ledger."""
    latest: dict[str, dict[str, Row]] = {name: {} for name in source_names}
    if source_names and tables.ledger_exists(spark):
        for row in tables.read_events(spark, source_names):
            latest[row.source][row.batch_id] = row  # the last event wins
    return {
        name: [_batch(row) for row in sorted(rows.values(), key=lambda row: row.seq)] for name, rows in latest.items()
    }


def _batch(row: Row) -> Batch:
    return Batch(
        batch_id=row.batch_id,
        source=row.source,
        seq=row.seq,
        status=BatchStatus(row.status),
        plan=plan_from_json(row.plan),
        rows_good=row.rows_good,
        rows_bad=row.rows_bad,
        delta_version=row.delta_version,
        note=row.note,
        started_at=row.started_at,
        shape=row.shape,
    )


class Ledger:
    """A source's batches, read once; every change is appended as an event and kept here too.
    `writer_id` names this process's events in the ledger's commits."""

    def __init__(self, spark: SparkSession, source: Source, writer_id: str, kept: bool = False) -> None:
        tables.ensure_tables(spark, source)
        self.spark, self.source, self.writer_id = spark, source, writer_id
        # `kept`: for later runs, which ask `is_current()`. Read before the events: a commit
        # between the two is taken for another process's (the safe side).
        self.version = tables.ledger_version(spark) if kept else None
        self.batches = read_batches(spark, source)

    def is_current(self) -> bool:
        """Whether this copy, kept, still holds the ledger: no other process wrote an event since it
        was read (one look at the ledger's history, instead of reading its events again)."""
        if self.version is None:
            return False
        self.version = tables.ledger_version_if_only_mine(self.spark, self.version, self.writer_id)
        return self.version is not None

    def start(self, plan: Plan, note: str | None = None) -> Batch:
        """The next batch, `started` in this run only: the ledger hears of it once it is written."""
        seq = max((batch.seq for batch in self.batches), default=0) + 1
        return Batch(
            f"{self.source.name}-{seq:06d}",
            self.source.name,
            seq,
            BatchStatus.STARTED,
            plan,
            note=note,
            started_at=_now(),
        )

    def record(self, batch: Batch) -> None:
        """One event with the batch's new state."""
        tables.append_event(
            self.spark,
            (
                batch.batch_id,
                batch.source,
                batch.seq,
                batch.status,
                _now(),
                plan_to_json(batch.plan),
                batch.rows_good,
                batch.rows_bad,
                batch.delta_version,
                batch.note,
                batch.started_at,
                batch.shape,
            ),
            self.writer_id,
        )
        known = [b.batch_id for b in self.batches]
        if batch.batch_id in known:
            self.batches[known.index(batch.batch_id)] = batch
        else:
            self.batches.append(batch)

    def find(self, batch_id: str) -> Batch:
        for batch in self.batches:
            if batch.batch_id == batch_id:
                return batch
        latest = [batch.batch_id for batch in self.batches[-3:]]
        known = f"its last: {', '.join(latest)}" if latest else "it has none yet"
        raise LakehouseError(
            f"no batch {batch_id!r} in the ledger of {self.source.name} ({known})",
            hint=f"see `lakehouse batches {self.source.name}`",
        )

    def legacy_started(self) -> list[Batch]:
        """Batches a data home of before left `started` in the ledger (an interrupted run)."""
        return [batch for batch in self.batches if batch.status == BatchStatus.STARTED]


def _now() -> datetime:
    return datetime.now(UTC)


def file_progress(batches: list[Batch], name: str, sha256: str) -> int | None:
    """Where the next batch of this file version starts; None when the ledger holds all of it."""
    done = [
        b.plan
        for b in batches
        if isinstance(b.plan, FilePlan) and (b.plan.file, b.plan.sha256) == (name, sha256) and b.status in DONE
    ]
    if any(plan.eof for plan in done):
        return None
    return max((plan.start_record + (plan.records or 0) for plan in done), default=0)


def kafka_positions(batches: list[Batch]) -> dict[int, int]:
    """Per partition, the offset up to which batches were planned (the next batch starts there)."""
    positions: dict[int, int] = {}
    for batch in batches:
        if isinstance(batch.plan, KafkaPlan) and batch.status != BatchStatus.ABANDONED:
            for r in batch.plan.ranges:
                positions[r.partition] = max(positions.get(r.partition, 0), r.end)
    return positions
