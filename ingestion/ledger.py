"""The bronze tables the engine owns: one per source, the quarantine, and the batch ledger.

The ledger is an append-only table of batch events (`started`, then `committed` or
`quarantined`, later maybe `rolled_back`): blind appends never conflict between concurrent
ingestions. `bronze.ingestion_batches` is a view with the latest state of every batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from ingestion.sources import Source
from ingestion.validation import typed_columns

EVENTS = "bronze.ingestion_batch_events"
BATCHES = "bronze.ingestion_batches"
QUARANTINE = "bronze.quarantine"

FILE_LINEAGE: list[tuple[str, T.DataType]] = [
    ("_source_file", T.StringType()),
    ("_source_line", T.LongType()),
]
KAFKA_LINEAGE: list[tuple[str, T.DataType]] = [
    ("_kafka_topic", T.StringType()),
    ("_kafka_partition", T.IntegerType()),
    ("_kafka_offset", T.LongType()),
    ("_kafka_timestamp", T.TimestampType()),
    ("_kafka_key", T.StringType()),
]
BATCH_COLUMNS: list[tuple[str, T.DataType]] = [
    ("_batch_id", T.StringType()),
    ("_ingested_at", T.TimestampType()),
]


def lineage_columns(source: Source) -> list[tuple[str, T.DataType]]:
    return FILE_LINEAGE if source.kind == "file" else KAFKA_LINEAGE


def bronze_columns(source: Source) -> list[tuple[str, T.DataType]]:
    return [*typed_columns(source), ("_raw", T.StringType()), *lineage_columns(source), *BATCH_COLUMNS]


QUARANTINE_COLUMNS: list[tuple[str, T.DataType]] = [
    ("source", T.StringType()),
    ("batch_id", T.StringType()),
    ("source_file", T.StringType()),
    ("source_line", T.LongType()),
    ("kafka_topic", T.StringType()),
    ("kafka_partition", T.IntegerType()),
    ("kafka_offset", T.LongType()),
    ("raw", T.StringType()),
    ("reason", T.StringType()),
    ("quarantined_at", T.TimestampType()),
]

EVENT_SCHEMA = T.StructType(
    [
        T.StructField("batch_id", T.StringType()),
        T.StructField("source", T.StringType()),
        T.StructField("seq", T.LongType()),
        T.StructField("status", T.StringType()),
        T.StructField("event_at", T.TimestampType()),
        T.StructField("plan", T.StringType()),
        T.StructField("rows_good", T.LongType()),
        T.StructField("rows_bad", T.LongType()),
        T.StructField("delta_version", T.LongType()),
        T.StructField("note", T.StringType()),
    ]
)


def _ddl(columns: list[tuple[str, T.DataType]]) -> str:
    return ", ".join(f"`{name}` {dtype.simpleString()}" for name, dtype in columns)


def ensure_tables(spark: SparkSession, source: Source) -> None:
    """Create what is missing (one catalog look-up when everything exists, the usual case)."""
    spark.sql("create schema if not exists bronze")
    existing = {row.tableName for row in spark.sql("show tables in bronze").collect()}
    if {source.table.split(".")[1], QUARANTINE.split(".")[1], EVENTS.split(".")[1], BATCHES.split(".")[1]} <= existing:
        return
    spark.sql(
        f"create table if not exists {source.table} ({_ddl(bronze_columns(source))}) using delta "
        f"comment '{source.description.replace(chr(39), '')}'"
    )
    spark.sql(f"create table if not exists {QUARANTINE} ({_ddl(QUARANTINE_COLUMNS)}) using delta")
    spark.sql(
        f"create table if not exists {EVENTS} ({_ddl([(f.name, f.dataType) for f in EVENT_SCHEMA.fields])}) using delta"
    )
    spark.sql(
        f"""
        create view if not exists {BATCHES} as
        with ranked as (
            select *, row_number() over (partition by batch_id order by event_at desc) as recency
            from {EVENTS}
        ),
        started as (
            select batch_id, min(event_at) as started_at from {EVENTS} group by batch_id
        )
        select
            ranked.batch_id, ranked.source, ranked.seq, ranked.status,
            started.started_at,
            case when ranked.status != 'started' then ranked.event_at end as finished_at,
            ranked.rows_good, ranked.rows_bad,
            get_json_object(ranked.plan, '$.topic') as kafka_topic,
            get_json_object(ranked.plan, '$.ranges') as kafka_offset_ranges,
            get_json_object(ranked.plan, '$.file') as file_name,
            get_json_object(ranked.plan, '$.sha256') as file_sha256,
            ranked.delta_version, ranked.note, ranked.plan
        from ranked
        inner join started on ranked.batch_id = started.batch_id
        where ranked.recency = 1
        """
    )


@dataclass
class Batch:
    batch_id: str
    source: str
    seq: int
    status: str
    plan: dict[str, Any]
    rows_good: int | None = None
    rows_bad: int | None = None
    delta_version: int | None = None
    note: str | None = None


def batches(spark: SparkSession, source: str) -> list[Batch]:
    """The latest state of every batch of a source, oldest first."""
    events = spark.sql(
        f"select batch_id, source, seq, status, plan, rows_good, rows_bad, delta_version, note "
        f"from {EVENTS} where source = '{source}' order by event_at"
    ).collect()
    rows = sorted({row.batch_id: row for row in events}.values(), key=lambda row: row.seq)  # last event wins
    return [
        Batch(
            batch_id=row.batch_id,
            source=row.source,
            seq=row.seq,
            status=row.status,
            plan=json.loads(row.plan),
            rows_good=row.rows_good,
            rows_bad=row.rows_bad,
            delta_version=row.delta_version,
            note=row.note,
        )
        for row in rows
    ]


def record_event(spark: SparkSession, batch: Batch) -> None:
    row = (
        batch.batch_id,
        batch.source,
        batch.seq,
        batch.status,
        datetime.now(UTC),
        json.dumps(batch.plan, sort_keys=True),
        batch.rows_good,
        batch.rows_bad,
        batch.delta_version,
        batch.note,
    )
    spark.createDataFrame([row], EVENT_SCHEMA).write.format("delta").mode("append").saveAsTable(EVENTS)


def written_version(spark: SparkSession, table: str, batch_id: str) -> int | None:
    """The Delta version of `table` that the batch's write created (found by its commit metadata)."""
    history = spark.sql(f"describe history {table} limit 50").where(f"userMetadata = '{batch_id}'")
    rows = history.select("version").orderBy("version", ascending=False).limit(1).collect()
    return rows[0].version if rows else None
