"""The bronze tables the library owns, and every SQL statement it runs on them.

One table per source, the quarantine, and the batch ledger: an append-only table of batch events
(`started`, then `committed` or `quarantined`, later maybe `rolled_back`) whose blind appends never
conflict between concurrent ingestions, with `bronze.ingestion_batches` as the view of each batch's
latest state. Values reach SQL as parameters, never pasted into the text.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ingestion.sources import Source
from ingestion.validation import typed_columns

SCHEMA = "bronze"
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

_BATCHES_VIEW = f"""
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


def lineage_columns(source: Source) -> list[tuple[str, T.DataType]]:
    return FILE_LINEAGE if source.kind == "file" else KAFKA_LINEAGE


def bronze_columns(source: Source) -> list[tuple[str, T.DataType]]:
    return [*typed_columns(source), ("_raw", T.StringType()), *lineage_columns(source), *BATCH_COLUMNS]


# Enforced by Delta on every write, so no dbt test has to scan bronze for it.
NOT_NULL = {"_batch_id"}


def _ddl(columns: list[tuple[str, T.DataType]]) -> str:
    return ", ".join(
        f"`{name}` {dtype.simpleString()}" + (" not null" if name in NOT_NULL else "") for name, dtype in columns
    )


def _string_literal(text: str) -> str:
    """A SQL string literal (DDL takes no parameters); the declarations' own text only."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _bare(table: str) -> str:
    return table.split(".")[1]


def ensure_tables(spark: SparkSession, source: Source) -> None:
    """Create what is missing (one catalog look-up when everything exists, the usual case)."""
    spark.sql(f"create schema if not exists {SCHEMA}")
    existing = {row.tableName for row in spark.sql(f"show tables in {SCHEMA}").collect()}
    if {_bare(source.table), _bare(QUARANTINE), _bare(EVENTS), _bare(BATCHES)} <= existing:
        _add_new_fields(spark, source)
        return
    spark.sql(
        f"create table if not exists {source.table} ({_ddl(bronze_columns(source))}) using delta "
        f"comment {_string_literal(source.description)}"
    )
    spark.sql(f"create table if not exists {QUARANTINE} ({_ddl(QUARANTINE_COLUMNS)}) using delta")
    spark.sql(f"create table if not exists {EVENTS} ({_ddl([(f.name, f.dataType) for f in EVENT_SCHEMA])}) using delta")
    spark.sql(_BATCHES_VIEW)


def _add_new_fields(spark: SparkSession, source: Source) -> None:
    """A field added to the source's declaration becomes a column (null in the rows before it)."""
    present = set(spark.table(source.table).columns)
    missing = [(name, dtype) for name, dtype in bronze_columns(source) if name not in present]
    if missing:
        spark.sql(f"alter table {source.table} add columns ({_ddl(missing)})")


def ledger_exists(spark: SparkSession) -> bool:
    return spark.catalog.tableExists(EVENTS)


def read_events(spark: SparkSession, source_name: str) -> list[Row]:
    """Every ledger event of a source, oldest first."""
    return spark.sql(
        f"select batch_id, source, seq, status, plan, rows_good, rows_bad, delta_version, note "
        f"from {EVENTS} where source = :source order by event_at",
        args={"source": source_name},
    ).collect()


def append_event(spark: SparkSession, row: tuple) -> None:
    spark.createDataFrame([row], EVENT_SCHEMA).write.format("delta").mode("append").saveAsTable(EVENTS)


def append_idempotent(frame: DataFrame, table: str, app_id: str, version: int, batch_id: str) -> None:
    """A Delta append that happens once per (`app_id`, `version`): a re-run of the batch is skipped."""
    (
        frame.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", version)
        .option("userMetadata", batch_id)
        .saveAsTable(table)
    )


def written_version(spark: SparkSession, table: str, batch_id: str) -> int | None:
    """The Delta version of `table` that the batch's write created (found by its commit metadata)."""
    history = spark.sql(f"describe history {table} limit 50").where(F.col("userMetadata") == batch_id)
    rows = history.select("version").orderBy("version", ascending=False).limit(1).collect()
    return rows[0].version if rows else None


def delete_batch(spark: SparkSession, source: Source, batch_id: str) -> int:
    """Take a batch's rows out of the source's table and the quarantine; the table's new Delta version."""
    spark.sql(f"delete from {source.table} where _batch_id = :batch_id", args={"batch_id": batch_id})
    spark.sql(f"delete from {QUARANTINE} where batch_id = :batch_id", args={"batch_id": batch_id})
    return spark.sql(f"describe history {source.table} limit 1").collect()[0].version


def ledger_view(spark: SparkSession, source_name: str | None) -> DataFrame:
    """The ledger as people read it: one row per batch, oldest first."""
    batches = spark.table(BATCHES)
    if source_name:
        batches = batches.where(batches.source == source_name)
    return batches.selectExpr(
        "batch_id",
        "status",
        "started_at",
        "finished_at",
        "rows_good",
        "rows_bad",
        "delta_version",
        "coalesce(file_name, kafka_offset_ranges) as input",
        "note",
    ).orderBy("started_at")
