"""Write one planned batch in one pass: Spark reads it, types and checks every record, and appends
all of them, good or bad, to `bronze.<source>__all` in one Delta commit, counting the records and
the bad ones as it writes (`DataFrame.observe`). Then one ledger event gives the batch its meaning:
`committed` (its good records become visible) or `quarantined` (none do).

The append is idempotent (`txnAppId` = source, `txnVersion` = batch number): a batch resumed after
a crash finds its commit in the table's history and takes its counts from its records there."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from ingestion import tables
from ingestion.config import settings
from ingestion.ledger import Batch, Ledger
from ingestion.plans import FilePlan
from ingestion.readers import Record
from ingestion.sources import Source
from ingestion.spark import parallelism as spark_parallelism
from ingestion.spark import session_settings
from ingestion.storage import folder
from ingestion.validation import validate


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
    if os.environ.get("LAKEHOUSE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _fields_array(records: list[Record]) -> pa.MapArray:
    """Each record's fields as one map (null when the record could not be split), built from flat
    lists: four times faster than converting a list of pairs per record."""
    offsets, keys, values, missing = [0], [], [], []
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
    """Writes the planned batches of one source to bronze and the ledger."""

    def __init__(self, spark: SparkSession, source: Source, options: Options) -> None:
        self.spark, self.source, self.options = spark, source, options
        self.ledger = Ledger(spark, source)
        # Left over from an interrupted run: a re-run writes its batch's file again.
        self._staging = folder(settings().staging).child(source.name)
        self._staging.clear()

    @cached_property
    def parallelism(self) -> int:
        return spark_parallelism(self.spark)

    def write(self, batch: Batch, staged: DataFrame, read_settings: Mapping[str, str] | None = None) -> Batch:
        """Write a staged batch to bronze in one pass (reading it under `read_settings`), then
        record what it means in the ledger."""
        counts = self._written_counts(batch)
        if counts is None:
            checked = validate(self.source, staged).withColumns(
                {"_batch_id": F.lit(batch.batch_id), "_ingested_at": F.current_timestamp()}
            )
            observation = Observation(f"batch-{batch.batch_id}")
            observed = checked.observe(observation, F.count(F.lit(1)).alias("records"), F.count("_reason").alias("bad"))
            with session_settings(self.spark, read_settings or {}):
                self._append(observed.select(*[name for name, _ in tables.all_records_columns(self.source)]), batch)
            metrics = observation.get
            counts = metrics["records"], metrics["bad"]
            batch.delta_version = tables.latest_version(self.spark, self.source.all_records)
        crash_point("after_bronze_write")
        total, bad = counts
        if isinstance(batch.plan, FilePlan) and batch.plan.max_records is None:
            batch.plan = batch.plan.read(total, eof=True)  # a whole file: its records are known now
        self._judge(batch, total, bad)
        self.ledger.record(batch)
        crash_point("after_ledger_commit")
        return batch

    def _written_counts(self, batch: Batch) -> tuple[int, int] | None:
        """(records, bad records) of a batch that an interrupted run already committed to bronze."""
        if batch.batch_id not in self.ledger.interrupted:
            return None
        version = tables.written_version(self.spark, self.source.all_records, batch.batch_id)
        if version is None:
            return None
        batch.delta_version = version
        return tables.batch_counts(self.spark, self.source, batch.batch_id)

    def write_records(self, batch: Batch, records: list[Record]) -> Batch:
        """A batch split in Python travels to Spark as a Parquet file in the staging folder (local,
        or HDFS for a server elsewhere): reading it is far faster than sending rows through Spark
        Connect."""
        name = f"{batch.batch_id}.parquet"
        with self._staging.create(name) as handle:
            pq.write_table(staged_file_records(records, batch.plan.file), handle)
        try:
            return self.write(batch, self.spark.read.parquet(self._staging.url_of(name)))
        finally:
            self._staging.remove(name)

    def _is_bad_whole(self, total: int, bad: int) -> bool:
        minimum = self.source.bad_min_records
        minimum = self.options.bad_min_records if minimum is None else minimum
        return bool(total) and bad / total > self.options.bad_share_threshold and bad >= minimum

    def _judge(self, batch: Batch, total: int, bad: int) -> None:
        """What the batch's records mean: its good ones visible, or none (quarantined whole)."""
        if self._is_bad_whole(total, bad):
            batch.status, batch.rows_good, batch.rows_bad = "quarantined", 0, total
            batch.note = (
                f"{bad} of {total} records bad ({bad / total:.0%}), above the threshold of "
                f"{self.options.bad_share_threshold:.0%}: the whole batch is in quarantine"
            )
        else:
            batch.status, batch.rows_good, batch.rows_bad = "committed", total - bad, bad

    def _append(self, frame: DataFrame, batch: Batch) -> None:
        tables.append_idempotent(
            frame, self.source.all_records, f"lakehouse-{self.source.name}", batch.seq, batch.batch_id
        )
