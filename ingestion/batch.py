"""Write one planned batch in one pass: Spark reads it, types and checks every record, and appends
all of them, good or bad, to `bronze.<source>__all` in one Delta commit, counting the records and
the bad ones as it writes (`DataFrame.observe`). Then one ledger event gives the batch its meaning:
`committed` (its good records become visible) or `quarantined` (none do).

The append is idempotent (`txnAppId` = source, `txnVersion` = batch number) and its commit carries
the batch's plan: a run killed between the bronze commit and the ledger event leaves a batch that
the next run finds in the table's history and records, with its counts taken from its records
there. A run killed before its bronze commit left nothing: its input is planned again."""

from __future__ import annotations

import json
import logging
import os
import signal
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from ingestion import shapes, tables
from ingestion.batch_status import BatchStatus
from ingestion.config import settings
from ingestion.errors import LakehouseError
from ingestion.ledger import Batch, Ledger
from ingestion.plans import FilePlan, Plan, plan_from_json, plan_to_json
from ingestion.readers import Record
from ingestion.sources import Source
from ingestion.spark import parallelism as spark_parallelism
from ingestion.spark import session_settings
from ingestion.storage import folder
from ingestion.validation import validate

log = logging.getLogger(__name__)

HEADED_FORMATS = frozenset({"csv", "xlsx"})
"""Formats whose records are the columns of a header row (each record of a batch carries them all)."""


@dataclass(frozen=True)
class Options:
    """How batches are cut and judged; defaults come from the settings (LAKEHOUSE_INGEST_*)."""

    batch_rows: int = field(default_factory=lambda: settings().ingest_batch_rows)
    """Most records in one batch of a file that Python splits (they are held in its memory); a
    file that Spark splits is one batch."""
    batch_messages: int = field(default_factory=lambda: settings().ingest_batch_messages)
    """Most Kafka messages in one batch: the Spark server reads and caches them, a partition
    per task, so this bounds its memory; each batch costs a few Delta commits, so it is large."""
    bad_share_threshold: float = field(default_factory=lambda: settings().ingest_bad_share_threshold)
    """A batch with a larger share of bad records is quarantined whole ..."""
    bad_min_records: int = field(default_factory=lambda: settings().ingest_bad_min_records)
    """... when it also holds at least this many bad records (a source may set its own): a few bad
    lines in a small file are quarantined alone, and the file's good records go on."""
    settle_seconds: float = field(default_factory=lambda: settings().ingest_settle_seconds)
    """A file modified more recently than this is still being written: left for the next run."""


def crash_point(name: str) -> None:
    """Fault injection for the exactly-once tests: die here as `kill -9` would."""
    if settings().crash_at == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _fields_array(records: list[Record]) -> pa.MapArray:
    """Each record's fields as one map (null when the record could not be split), built from flat
    lists: four times faster than converting a list of pairs per record."""
    offsets, missing = [0], []
    keys: list[str] = []
    values: list[str | None] = []
    for record in records:
        if record.fields:
            keys.extend(record.fields.keys())
            values.extend(record.fields.values())
        offsets.append(len(keys))
        missing.append(not record.fields)
    return pa.MapArray.from_arrays(
        pa.array(offsets, pa.int32()),
        pa.array(keys, pa.string()),
        pa.array(values, pa.string()),
        mask=pa.array(missing, pa.bool_()),
    )


def staged_file_records(records: list[Record], file_name: str) -> pa.Table:
    """Records split in Python, in the staged shape `validate` reads."""
    return pa.table(
        {
            "_raw": pa.array([r.raw for r in records], pa.string()),
            "_fields": _fields_array(records),
            "_error": pa.array([r.error for r in records], pa.string()),
            "_source_file": pa.array([file_name] * len(records), pa.string()),
            "_source_line": pa.array([r.position for r in records], pa.int64()),
        }
    )


class BatchWriter:
    """Writes the planned batches of one source to bronze and the ledger. One writer may serve
    several runs of the same process (`Writers`) while its ledger `is_current()`."""

    def __init__(self, spark: SparkSession, source: Source, options: Options, kept: bool = False) -> None:
        self.spark, self.source, self.options = spark, source, options
        self._writer_id = uuid.uuid4().hex
        self.ledger = Ledger(spark, source, self._writer_id, kept)
        # Left over from an interrupted run: a re-run writes its batch's file again.
        self._staging = folder(settings().staging).child(source.name)
        self._staging.clear()
        self._finish_interrupted()

    @cached_property
    def parallelism(self) -> int:
        return spark_parallelism(self.spark)

    def write(
        self,
        batch: Batch,
        staged: DataFrame,
        read_settings: Mapping[str, str] | None = None,
        header: Sequence[str] = (),
    ) -> Batch:
        """Write a staged batch to bronze in one pass (reading it under `read_settings`), then
        record what it means in the ledger. `header`: the columns a table's header named."""
        checked = validate(self.source, staged).withColumns(
            {"_batch_id": F.lit(batch.batch_id), "_ingested_at": F.current_timestamp()}
        )
        columns = [name for name, _ in tables.all_records_columns(self.source)]
        observation = Observation(f"batch-{batch.batch_id}")
        observed = checked.select(*columns).observe(observation, *shapes.metrics(self.source))
        with session_settings(self.spark, read_settings or {}):
            self._append(observed, batch)
        written = self._commit_of(batch.batch_id)
        if written and written.writer_id == self._writer_id:
            metrics = observation.get
        elif written:
            # A run killed while Spark still wrote its batch got there first: Delta skipped this
            # append as a second try of the same batch number, so the batch is what that run wrote.
            log.warning(
                "%s: %s was written by an interrupted run meanwhile; taking it as it is",
                self.source.name,
                batch.batch_id,
            )
            batch = written.batch(self.source)
            metrics = tables.batch_metrics(self.spark, self.source, batch.batch_id)
        else:
            raise LakehouseError(f"batch {batch.batch_id} was not found in {self.source.all_records} after its write")
        batch.delta_version = written.version
        crash_point("after_bronze_write")
        return self._finish(batch, metrics, header)

    def _finish(self, batch: Batch, metrics: Mapping[str, Any], header: Sequence[str] = ()) -> Batch:
        """The batch's one ledger event: what its records, now in bronze, mean."""
        total, bad = metrics["records"], metrics["bad"]
        if isinstance(batch.plan, FilePlan) and batch.plan.max_records is None:
            batch.plan = batch.plan.read(total, eof=True)  # a whole file: its records are known now
        shape = shapes.Shape.observed(self.source, metrics, header)
        if total:
            batch.shape = shape.to_json()
            self._warn_of_a_new_shape(batch, shape)
        self._judge(batch, total, bad, shape)
        if batch.status == BatchStatus.COMMITTED and self.source.schema_policy == "evolve":
            tables.evolve(self.spark, self.source, shape.new_fields(self.source))
        self.ledger.record(batch)
        crash_point("after_ledger_commit")
        return batch

    @cached_property
    def _shapes(self) -> shapes.ShapeHistory:
        told = shapes.ShapeHistory()
        for earlier in self.ledger.batches:
            if shape := shapes.Shape.from_json(earlier.shape):
                told.add(shape)
        return told

    def _warn_of_a_new_shape(self, batch: Batch, shape: shapes.Shape) -> None:
        first = self._shapes.always is None
        if (changes := self._shapes.add(shape)) and not first:
            batch.shape_changes = [line.strip() for line in changes]
            log.warning(
                "%s: %s changed the source's shape: %s (see `lakehouse schema %s`)",
                self.source.name,
                batch.batch_id,
                "; ".join(batch.shape_changes),
                self.source.name,
            )

    def _commit_of(self, batch_id: str) -> WrittenBatch | None:
        for version, metadata in tables.recent_commits(self.spark, self.source.all_records, RECENT_COMMITS):
            written = WrittenBatch.parse(version, metadata)
            if written and written.batch_id == batch_id:
                return written
        return None

    def _finish_interrupted(self) -> None:
        """A run killed between its bronze commit and its ledger event left a batch that only
        bronze knows (at most one per source: batches are written one at a time under the
        source's lock): its ledger event is written now, from its plan in the commit metadata
        and its counts in bronze. A ledger of before may also hold `started` batches."""
        last_seq = max((batch.seq for batch in self.ledger.batches), default=0)
        commits = tables.recent_commits(self.spark, self.source.all_records, RECENT_COMMITS)
        written = [w for version, metadata in reversed(commits) if (w := WrittenBatch.parse(version, metadata))]
        for orphan in written:
            if orphan.seq > last_seq:  # newer than every batch the ledger knows
                log.warning(
                    "%s: recording %s, written to bronze by an interrupted run", self.source.name, orphan.batch_id
                )
                batch = orphan.batch(self.source)
                batch.delta_version = orphan.version
                self._finish(batch, tables.batch_metrics(self.spark, self.source, batch.batch_id))
        for batch in self.ledger.legacy_started():
            version = next((version for version, metadata in commits if metadata == batch.batch_id), None)
            if version is None:
                batch.status, batch.note = (
                    BatchStatus.ABANDONED,
                    "interrupted before it was written; its input is planned again",
                )
                self.ledger.record(batch)
            else:
                batch.delta_version = version
                self._finish(batch, tables.batch_metrics(self.spark, self.source, batch.batch_id))

    def write_records(self, batch: Batch, records: list[Record]) -> Batch:
        """A batch split in Python travels to Spark as a Parquet file in the staging folder (local,
        or HDFS for a server elsewhere): reading it is far faster than sending rows through Spark
        Connect."""
        name = f"{batch.batch_id}.parquet"
        with self._staging.create(name) as handle:
            pq.write_table(staged_file_records(records, batch.file_plan.file), handle)
        # A table's records carry every column of its header, with a value or not.
        header = next((list(r.fields) for r in records if r.fields), []) if self.source.format in HEADED_FORMATS else []
        try:
            return self.write(batch, self.spark.read.parquet(self._staging.url_of(name)), header=header)
        finally:
            self._staging.remove(name)

    def _is_bad_whole(self, total: int, bad: int) -> bool:
        minimum = self.source.bad_min_records
        minimum = self.options.bad_min_records if minimum is None else minimum
        return bool(total) and bad / total > self.options.bad_share_threshold and bad >= minimum

    def _judge(self, batch: Batch, total: int, bad: int, shape: shapes.Shape) -> None:
        """What the batch's records mean: its good ones visible, or none (quarantined whole)."""
        difference = shape.strict_difference(self.source) if total and self.source.schema_policy == "strict" else None
        if difference:
            batch.status, batch.rows_good, batch.rows_bad = BatchStatus.QUARANTINED, 0, total
            batch.note = f"its shape differs from the declaration (schema policy strict): {difference}"
        elif self._is_bad_whole(total, bad) and (missing := shape.missing_required(self.source)):
            batch.status, batch.rows_good, batch.rows_bad = BatchStatus.QUARANTINED, 0, total
            batch.note = (
                f"required field(s) {', '.join(missing)} in none of its {total} records: the source no longer "
                "sends what its declaration requires; the whole batch is in quarantine"
            )
            log.error("%s: %s: %s", self.source.name, batch.batch_id, batch.note)
        elif self._is_bad_whole(total, bad):
            batch.status, batch.rows_good, batch.rows_bad = BatchStatus.QUARANTINED, 0, total
            batch.note = (
                f"{bad} of {total} records bad ({bad / total:.0%}), above the threshold of "
                f"{self.options.bad_share_threshold:.0%}: the whole batch is in quarantine"
            )
        else:
            batch.status, batch.rows_good, batch.rows_bad = BatchStatus.COMMITTED, total - bad, bad

    def _append(self, frame: DataFrame, batch: Batch) -> None:
        metadata = WrittenBatch.of(batch, self._writer_id).to_json()
        tables.append_idempotent(frame, self.source.all_records, f"lakehouse-{self.source.name}", batch.seq, metadata)


class Writers:
    """Batch writers kept from one run to the next in one process (`lakehouse run --follow`): a
    source's ledger is read again only when another process wrote to it meanwhile (a rollback, a
    Dagster run), which one look at the ledger's history tells."""

    def __init__(self) -> None:
        self._kept: dict[str, BatchWriter] = {}

    def writer(self, spark: SparkSession, source: Source, options: Options) -> BatchWriter:
        """The source's writer, under the source's lock."""
        kept = self._kept.get(source.name)
        if kept is None or kept.spark is not spark or kept.options != options or not kept.ledger.is_current():
            kept = self._kept[source.name] = BatchWriter(spark, source, options, kept=True)
        return kept


RECENT_COMMITS = 10
"""How far back in a bronze table's history a batch's commit is looked for: batches of a source are
written one at a time, so its last commit or the few after it (a purge, a compaction)."""


@dataclass(frozen=True)
class WrittenBatch:
    """What a batch's bronze commit says of it (its `userMetadata`): enough to record it in the
    ledger should the run that wrote it die before it could."""

    version: int
    batch_id: str
    seq: int
    plan: Plan
    note: str | None
    started_at: datetime | None
    writer_id: str

    @classmethod
    def of(cls, batch: Batch, writer_id: str) -> WrittenBatch:
        return cls(-1, batch.batch_id, batch.seq, batch.plan, batch.note, batch.started_at, writer_id)

    def to_json(self) -> str:
        return json.dumps(
            {
                "batch_id": self.batch_id,
                "seq": self.seq,
                "plan": plan_to_json(self.plan),
                "note": self.note,
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "writer_id": self.writer_id,
            }
        )

    @classmethod
    def parse(cls, version: int, metadata: str | None) -> WrittenBatch | None:
        """None for a commit that is not a batch's (a purge, a compaction, a data home of before)."""
        try:
            data = json.loads(metadata or "")
            started_at = datetime.fromisoformat(data["started_at"]) if data.get("started_at") else None
            return cls(
                version,
                data["batch_id"],
                data["seq"],
                plan_from_json(data["plan"]),
                data.get("note"),
                started_at,
                data["writer_id"],
            )
        except (ValueError, TypeError, KeyError, AttributeError):  # not JSON, or not a batch's object
            return None

    def batch(self, source: Source) -> Batch:
        return Batch(
            self.batch_id,
            source.name,
            self.seq,
            BatchStatus.STARTED,
            self.plan,
            note=self.note,
            started_at=self.started_at,
        )
