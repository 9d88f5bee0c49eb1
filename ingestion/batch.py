"""Write one planned batch: check it once in Spark, split it between bronze and quarantine, and
record the outcome in the ledger. Bronze and quarantine appends are idempotent (`txnAppId` =
source, `txnVersion` = batch number): a batch re-run after a crash skips what already landed."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ingestion import lines, tables
from ingestion.config import settings
from ingestion.ledger import Batch, Ledger
from ingestion.readers import Record
from ingestion.sources import Source
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
    """Writes the planned batches of one source to bronze, quarantine and the ledger."""

    def __init__(self, spark: SparkSession, source: Source, options: Options) -> None:
        self.spark, self.source, self.options = spark, source, options
        self.ledger = Ledger(spark, source)
        # Left over from an interrupted run: a re-run writes its batch's file again.
        self._staging = folder(settings().staging).child(source.name)
        self._staging.clear()

    def write(self, batch: Batch, staged: DataFrame) -> Batch:
        """Check a staged batch once (cached), then split it between bronze and quarantine."""
        checked = (
            validate(self.source, staged)
            .withColumns({"_batch_id": F.lit(batch.batch_id), "_ingested_at": F.current_timestamp()})
            .cache()
        )
        try:
            if lines.ROW_ID in checked.columns:
                total, bad, records = lines.count_and_number(checked)
                batch.plan = batch.plan.read(total, eof=True)  # a whole file: its records are known now
            else:
                total, bad = checked.agg(F.count(F.lit(1)), F.count("_reason")).first()
                records = checked
            self._write_checked(batch, records, total, bad)
        finally:
            checked.unpersist()
        batch.delta_version = tables.written_version(self.spark, self.source.table, batch.batch_id)
        self.ledger.record(batch)
        crash_point("after_ledger_commit")
        return batch

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

    def _write_checked(self, batch: Batch, checked: DataFrame, total: int, bad: int) -> None:
        threshold = self.options.bad_share_threshold
        if self._is_bad_whole(total, bad):
            batch.status, batch.rows_good, batch.rows_bad = "quarantined", 0, total
            batch.note = (
                f"{bad} of {total} records bad ({bad / total:.0%}), above the threshold of {threshold:.0%}: "
                "the whole batch is in quarantine"
            )
            whole = checked.withColumn(
                "_reason", F.coalesce("_reason", F.lit(f"batch {batch.batch_id} quarantined whole: {batch.note}"))
            )
            self._append_quarantine(whole, batch)
            return
        batch.status, batch.rows_good, batch.rows_bad = "committed", total - bad, bad
        if bad:
            self._append_quarantine(checked, batch)
        crash_point("after_quarantine_write")
        if total - bad:
            self._append(checked.where("_reason is null").drop("_reason"), self.source.table, batch)
        crash_point("after_bronze_write")

    def _append(self, frame: DataFrame, table: str, batch: Batch) -> None:
        tables.append_idempotent(frame, table, f"lakehouse-{self.source.name}", batch.seq, batch.batch_id)

    def _append_quarantine(self, frame: DataFrame, batch: Batch) -> None:
        """The records of `frame` that have a reason, as quarantine rows."""
        is_file = self.source.kind == "file"
        rows = frame.where("_reason is not null").select(
            F.lit(self.source.name).alias("source"),
            F.lit(batch.batch_id).alias("batch_id"),
            (F.col("_source_file") if is_file else F.lit(None).cast("string")).alias("source_file"),
            (F.col("_source_line") if is_file else F.lit(None).cast("bigint")).alias("source_line"),
            (F.lit(None).cast("string") if is_file else F.col("_kafka_topic")).alias("kafka_topic"),
            (F.lit(None).cast("int") if is_file else F.col("_kafka_partition")).alias("kafka_partition"),
            (F.lit(None).cast("bigint") if is_file else F.col("_kafka_offset")).alias("kafka_offset"),
            F.col("_raw").alias("raw"),
            F.col("_reason").alias("reason"),
            F.col("_ingested_at").alias("quarantined_at"),
        )
        self._append(rows, tables.QUARANTINE, batch)
