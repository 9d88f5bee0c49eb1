"""Land files and Kafka topics in bronze exactly once, in bounded batches.

A batch is planned before it is read: a file, its content hash and the records to take, or
per-partition Kafka offset ranges. The plan is written to the ledger (`started`) first, so a
batch interrupted at any point is re-run from the same plan. Bronze and quarantine writes are
idempotent Delta appends (`txnAppId` = source, `txnVersion` = batch number): a re-run skips
whatever already landed. Kafka messages are read by the Spark server itself, by offset range.
Offsets are committed to the broker only after the ledger says `committed`, and are
informational: on start the ingestion resumes from the ledger.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import os
import shutil
import signal
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ingestion import kafka_client, ledger
from ingestion.config import settings
from ingestion.errors import LakehouseError
from ingestion.ledger import Batch
from ingestion.readers import Record, read_records
from ingestion.runtime.service import Port, port_answers
from ingestion.sources import Source
from ingestion.validation import validate

DONE = ("committed", "quarantined", "rolled_back")


@dataclass(frozen=True)
class Options:
    """How batches are cut and judged; defaults come from the settings (LAKEHOUSE_INGEST_*)."""

    batch_rows: int = field(default_factory=lambda: settings().ingest_batch_rows)
    """Most records of a file in one batch: they are held in Python's memory."""
    batch_messages: int = field(default_factory=lambda: settings().ingest_batch_messages)
    """Most Kafka messages in one batch: the Spark server reads and caches them, a partition
    per task, so this bounds its memory; each batch costs a few Delta commits, so it is large."""
    bad_share_threshold: float = field(default_factory=lambda: settings().ingest_bad_share_threshold)
    """A batch with a larger share of bad records is quarantined whole."""
    settle_seconds: float = field(default_factory=lambda: settings().ingest_settle_seconds)
    """A file modified more recently than this is still being written: left for the next run."""


def _crash_point(name: str) -> None:
    """Fault injection for the exactly-once tests: die here as `kill -9` would."""
    if os.environ.get("LAKEHOUSE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def source_lock(source: Source) -> Iterator[None]:
    """One ingestion per source at a time on this machine."""
    settings().run_dir.mkdir(parents=True, exist_ok=True)
    with (settings().run_dir / f"ingest-{source.name}.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LakehouseError(
                f"another ingestion of {source.name} is running",
                hint="wait for it to finish; batches are never processed twice",
            ) from None
        yield


class BatchWriter:
    """Writes one planned batch to bronze, quarantine and the ledger."""

    def __init__(self, spark: SparkSession, source: Source, options: Options) -> None:
        self.spark, self.source, self.options = spark, source, options
        ledger.ensure_tables(spark, source)
        self.known = ledger.batches(spark, source.name)
        # Left over from an interrupted run: a re-run writes its batch's file again.
        self._staging = settings().staging_dir / source.name
        shutil.rmtree(self._staging, ignore_errors=True)
        self._staging.mkdir(parents=True)

    def next_batch(self, plan: dict, note: str | None = None) -> Batch:
        seq = max((batch.seq for batch in self.known), default=0) + 1
        batch = Batch(f"{self.source.name}-{seq:06d}", self.source.name, seq, "started", plan, note=note)
        ledger.record_event(self.spark, batch)
        self.known.append(batch)
        return batch

    def write(self, batch: Batch, staged: DataFrame) -> Batch:
        """Check a staged batch once (cached), then split it between bronze and quarantine."""
        checked = (
            validate(self.source, staged)
            .withColumns({"_batch_id": F.lit(batch.batch_id), "_ingested_at": F.lit(datetime.now(UTC))})
            .cache()
        )
        try:
            total, bad = checked.agg(F.count(F.lit(1)), F.count("_reason")).first()
            self._write_checked(batch, checked, total, bad)
        finally:
            checked.unpersist()
        batch.delta_version = ledger.written_version(self.spark, self.source.table, batch.batch_id)
        ledger.record_event(self.spark, batch)
        _crash_point("after_ledger_commit")
        return batch

    def write_records(self, batch: Batch, records: list[Record]) -> Batch:
        """A batch split in Python travels to Spark as a Parquet file in the staging folder:
        reading it is far faster than sending rows through Spark Connect."""
        path = self._staging / f"{batch.batch_id}.parquet"
        pq.write_table(stage_file_records(records, batch.plan["file"]), path)
        try:
            return self.write(batch, self.spark.read.parquet(str(path)))
        finally:
            path.unlink(missing_ok=True)

    def _write_checked(self, batch: Batch, checked: DataFrame, total: int, bad: int) -> None:
        threshold = self.options.bad_share_threshold
        if total and bad / total > threshold:
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
        _crash_point("after_quarantine_write")
        if total - bad:
            self._append(checked.where("_reason is null").drop("_reason"), self.source.table, batch)
        _crash_point("after_bronze_write")

    def _append(self, frame: DataFrame, table: str, batch: Batch) -> None:
        (
            frame.write.format("delta")
            .mode("append")
            .option("txnAppId", f"lakehouse-{self.source.name}")
            .option("txnVersion", batch.seq)
            .option("userMetadata", batch.batch_id)
            .saveAsTable(table)
        )

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
        self._append(rows, ledger.QUARANTINE, batch)


# -- staging -------------------------------------------------------------------------------
_FIELDS_TYPE = pa.map_(pa.string(), pa.string())
_FIELDS_SPARK_TYPE = "map<string,string>"


def stage_file_records(records: list[Record], file_name: str) -> pa.Table:
    return pa.table(
        {
            "_raw": pa.array([r.raw for r in records], pa.string()),
            "_fields": pa.array([list(r.fields.items()) if r.fields else None for r in records], _FIELDS_TYPE),
            "_error": pa.array([r.error for r in records], pa.string()),
            "_source_file": pa.array([file_name] * len(records), pa.string()),
            "_source_line": pa.array([r.position for r in records], pa.int64()),
        }
    )


# -- files ---------------------------------------------------------------------------------
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _chunks(records: Iterable[Record], size: int) -> Iterator[tuple[list[Record], bool]]:
    """Consecutive chunks of `size` records, each with whether it is the last one."""
    iterator = iter(records)
    chunk = list(itertools.islice(iterator, size))
    while True:
        following = list(itertools.islice(iterator, size))
        yield chunk, not following
        if not following:
            return
        chunk = following


def landing_files(source: Source) -> Iterator[tuple[str, Path]]:
    """The files of a source's landing folder (hidden ones excepted), by name relative to it."""
    folder = settings().landing_dir / source.name
    if folder.exists():
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            yield str(path.relative_to(folder)), path


def ingest_files(spark: SparkSession, source: Source, options: Options) -> list[Batch]:
    started = time.time()
    folder = settings().landing_dir / source.name
    folder.mkdir(parents=True, exist_ok=True)
    with source_lock(source):
        writer = BatchWriter(spark, source, options)
        done: list[Batch] = []
        for batch in [b for b in writer.known if b.status == "started"]:
            done.extend(_resume_file_batch(writer, folder, batch))
        # Which files are stable is decided once, up front: a file still being written when the
        # run starts waits for the next run, however long this one takes.
        for name, path in landing_files(source):
            age = started - path.stat().st_mtime
            if age < options.settle_seconds:
                print(f"{source.name}: {name} changed {age:.1f}s ago, still being written; left for the next run")
                continue
            done.extend(_ingest_file(writer, folder, name, file_sha256(path)))
        return done


def _ingest_file(writer: BatchWriter, folder: Path, name: str, sha256: str) -> list[Batch]:
    chunks_of_this_version = [
        b for b in writer.known if b.plan.get("file") == name and b.plan.get("sha256") == sha256 and b.status in DONE
    ]
    if any(b.plan.get("eof") for b in chunks_of_this_version):
        return []
    start = max((b.plan["start_record"] + b.plan["records"] for b in chunks_of_this_version), default=0)
    return _run_file_plan(writer, folder, name, sha256, start)


def _run_file_plan(writer: BatchWriter, folder: Path, name: str, sha256: str, start: int) -> list[Batch]:
    size = writer.options.batch_rows
    records = itertools.islice(read_records(writer.source, folder / name), start, None)
    written = []
    for chunk, last in _chunks(records, size):
        plan = {"file": name, "sha256": sha256, "start_record": start, "max_records": size}
        batch = writer.next_batch(plan)
        written.append(_finish_file_batch(writer, batch, chunk, last))
        start += len(chunk)
    return written


def _finish_file_batch(writer: BatchWriter, batch: Batch, chunk: list[Record], last: bool) -> Batch:
    batch.plan = {**batch.plan, "records": len(chunk), "eof": last}
    result = writer.write_records(batch, chunk)
    print(f"{writer.source.name}: {describe(result)}", flush=True)
    return result


def _resume_file_batch(writer: BatchWriter, folder: Path, batch: Batch) -> list[Batch]:
    plan, path = batch.plan, folder / batch.plan["file"]
    if not path.exists() or file_sha256(path) != plan["sha256"]:
        batch.status, batch.note = "abandoned", "interrupted, and its file changed or disappeared since"
        ledger.record_event(writer.spark, batch)
        return []
    records = itertools.islice(read_records(writer.source, path), plan["start_record"], None)
    chunk, last = next(_chunks(records, plan["max_records"]))
    print(f"{writer.source.name}: resuming interrupted batch {batch.batch_id}", flush=True)
    return [_finish_file_batch(writer, batch, chunk, last)]


# -- kafka ---------------------------------------------------------------------------------
def _consumer(source: Source):
    """For metadata and for committing offsets: the messages themselves are read by Spark."""
    return kafka_client.consumer(group_id=f"lakehouse-bronze-{source.name}")


def kafka_messages(spark: SparkSession, topic: str, ranges: list[dict]) -> DataFrame:
    """Exactly the messages of the planned offset ranges (end exclusive), staged for validation.

    The Spark server reads them itself with Spark's Kafka source (Java client, one task per
    partition): nothing passes through Python, and a range no longer held by Kafka fails the
    batch (`failOnDataLoss`) rather than landing part of it.
    """
    offsets = {
        "startingOffsets": {topic: {str(r["partition"]): r["start"] for r in ranges}},
        "endingOffsets": {topic: {str(r["partition"]): r["end"] for r in ranges}},
    }
    messages = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", settings().kafka_bootstrap)
        .option("assign", json.dumps({topic: [r["partition"] for r in ranges]}))
        .options(**{name: json.dumps(value) for name, value in offsets.items()})
        .option("failOnDataLoss", "true")
        .load()
    )
    value = F.col("value").cast("string")
    return messages.select(
        F.make_valid_utf8(value).alias("_raw"),
        F.lit(None).cast(_FIELDS_SPARK_TYPE).alias("_fields"),
        F.when(F.col("value").isNull(), F.lit("empty message (null value)"))
        .when(~F.is_valid_utf8(value), F.lit("undecodable bytes (the message is not UTF-8)"))
        .alias("_error"),
        F.col("topic").alias("_kafka_topic"),
        F.col("partition").alias("_kafka_partition"),
        F.col("offset").alias("_kafka_offset"),
        F.col("timestamp").alias("_kafka_timestamp"),
        F.make_valid_utf8(F.col("key").cast("string")).alias("_kafka_key"),
    )


def _plan_ranges(positions: dict[int, int], ends: dict[int, int], budget: int) -> list[dict]:
    ranges = []
    for partition in sorted(ends):
        start = positions.get(partition, 0)
        take = max(0, min(ends[partition] - start, budget))
        if take:
            ranges.append({"partition": partition, "start": start, "end": start + take})
            budget -= take
    return ranges


def ingest_topic(spark: SparkSession, source: Source, options: Options, max_batches: int | None = None) -> list[Batch]:
    """Ingest what the topic holds now (up to `max_batches` batches), then return."""
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    topic = source.topic
    with source_lock(source):
        writer = BatchWriter(spark, source, options)
        consumer = _consumer(source)
        try:

            def commit(ranges: list[dict]) -> None:
                """Tell Kafka how far the lakehouse holds the topic (monitoring only: not read back)."""
                consumer.commit(
                    {TopicPartition(topic, r["partition"]): OffsetAndMetadata(r["end"], "", -1) for r in ranges}
                )

            done: list[Batch] = []
            for batch in [b for b in writer.known if b.status == "started"]:
                print(f"{source.name}: resuming interrupted batch {batch.batch_id}", flush=True)
                done.append(_finish_kafka_batch(writer, batch))
                commit(batch.plan["ranges"])
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                print(f"{source.name}: topic {topic} does not exist yet; nothing to ingest")
                return done
            positions: dict[int, int] = {}
            for batch in writer.known:
                for r in batch.plan.get("ranges", []):
                    positions[r["partition"]] = max(positions.get(r["partition"], 0), r["end"])
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            beginnings = consumer.beginning_offsets(tps)
            for tp in tps:
                if positions.get(tp.partition, 0) < beginnings[tp]:
                    print(
                        f"{source.name}: partition {tp.partition} starts at {beginnings[tp]} (retention); skipping ahead"
                    )
                    positions[tp.partition] = beginnings[tp]
            ends = {tp.partition: end for tp, end in consumer.end_offsets(tps).items()}
            while max_batches is None or len(done) < max_batches:
                ranges = _plan_ranges(positions, ends, options.batch_messages)
                if not ranges:
                    break
                positions.update({r["partition"]: r["end"] for r in ranges})
                done.append(_finish_kafka_batch(writer, writer.next_batch({"topic": topic, "ranges": ranges})))
                commit(ranges)
            return done
        finally:
            consumer.close()


def _finish_kafka_batch(writer: BatchWriter, batch: Batch) -> Batch:
    try:
        result = writer.write(batch, kafka_messages(writer.spark, batch.plan["topic"], batch.plan["ranges"]))
    except PySparkException as error:
        s = settings()
        if not port_answers(Port("Kafka broker", s.kafka_host, s.kafka_port)):
            raise LakehouseError(
                f"the Kafka broker at {s.kafka_bootstrap} became unreachable while batch {batch.batch_id} was read; "
                "nothing of the batch was committed",
                hint="start it again (`lakehouse up`): the next ingestion re-runs the batch from its plan",
            ) from error
        if "not available in Kafka any more" in str(error):
            raise LakehouseError(
                f"batch {batch.batch_id} cannot be read: Kafka no longer holds all of its offsets "
                f"({_offsets_text(batch.plan['ranges'])}); nothing of the batch was committed",
                hint="the topic's retention removed them before they were ingested; raise its retention.ms",
            ) from error
        raise
    print(f"{writer.source.name}: {describe(result)}", flush=True)
    return result


# -- rollback and replay ---------------------------------------------------------------------
def _find(writer: BatchWriter, batch_id: str) -> Batch:
    for batch in writer.known:
        if batch.batch_id == batch_id:
            return batch
    raise LakehouseError(f"no batch {batch_id} in the ledger of {writer.source.name}", hint="see `lakehouse batches`")


def rollback(spark: SparkSession, source: Source, batch_id: str) -> Batch:
    """Take a batch's rows out of bronze and quarantine; Delta history keeps the old versions."""
    with source_lock(source):
        writer = BatchWriter(spark, source, Options())
        batch = _find(writer, batch_id)
        if batch.status not in ("committed", "quarantined"):
            raise LakehouseError(
                f"batch {batch_id} is {batch.status}; only committed or quarantined batches can be rolled back"
            )
        spark.sql(f"delete from {source.table} where _batch_id = '{batch_id}'")
        spark.sql(f"delete from {ledger.QUARANTINE} where batch_id = '{batch_id}'")
        version = spark.sql(f"describe history {source.table} limit 1").collect()[0].version
        batch.status, batch.delta_version = "rolled_back", version
        batch.note = f"rolled back; bronze rows before it are in Delta version {version - 1}"
        ledger.record_event(spark, batch)
        print(f"{source.name}: {batch_id} rolled back (bronze is now at Delta version {version})")
        return batch


def replay(spark: SparkSession, source: Source, batch_id: str) -> Batch:
    """Ingest a rolled-back batch again, from its file or its Kafka offsets, as a new batch."""
    with source_lock(source):
        writer = BatchWriter(spark, source, Options())
        batch = _find(writer, batch_id)
        if batch.status != "rolled_back":
            raise LakehouseError(
                f"batch {batch_id} is {batch.status}; roll it back first (replaying it now would duplicate its rows)",
                hint=f"lakehouse rollback {source.name} {batch_id}",
            )
        note = f"replay of {batch_id}"
        if source.kind == "kafka":
            new = writer.next_batch({"topic": batch.plan["topic"], "ranges": batch.plan["ranges"]}, note=note)
            return _finish_kafka_batch(writer, new)
        folder = settings().landing_dir / source.name
        plan = batch.plan
        path = folder / plan["file"]
        if not path.exists() or file_sha256(path) != plan["sha256"]:
            raise LakehouseError(
                f"cannot replay {batch_id}: {path} is gone or changed since it was ingested",
                hint="put the original file back in the landing folder",
            )
        records = itertools.islice(read_records(source, path), plan["start_record"], None)
        chunk = list(itertools.islice(records, plan["records"]))
        new = writer.next_batch({k: plan[k] for k in ("file", "sha256", "start_record", "max_records")}, note=note)
        return _finish_file_batch(writer, new, chunk, plan["eof"])


def _offsets_text(ranges: list[dict]) -> str:
    return ", ".join(f"p{r['partition']}:{r['start']}-{r['end']}" for r in ranges)


def describe(batch: Batch) -> str:
    """One line about a batch, for people."""
    where = batch.plan.get("file") or _offsets_text(batch.plan.get("ranges", []))
    return (
        f"batch {batch.batch_id} {batch.status}: {batch.rows_good} rows to bronze, {batch.rows_bad} quarantined "
        f"({where}){' - ' + batch.note if batch.note and batch.status != 'committed' else ''}"
    )


def ingest(spark: SparkSession, source: Source, options: Options, max_batches: int | None = None) -> list[Batch]:
    if source.kind == "kafka":
        return ingest_topic(spark, source, options, max_batches)
    return ingest_files(spark, source, options)
