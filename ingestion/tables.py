"""The bronze tables the library owns, and every SQL statement it runs on them.

Per source, `bronze.<source>__all` holds every record that arrived, good or bad, each with its
`_reason` (null for a good one): a batch is one Delta commit there, written in one pass, whose
commit metadata carries the batch's plan. The batch ledger is an append-only table of batch events
(`committed` or `quarantined`, later maybe `rolled_back`) whose blind appends never conflict between
concurrent ingestions, with `bronze.ingestion_batches` as the view of each batch's latest state.

The ledger gives the records their meaning, and `VISIBLE_BATCHES` is the one place that rule is
written: `bronze.<source>` (what every reader reads: staging models, verify, the API, the
dashboard, exports) is a view of the good records of committed batches, and `bronze.quarantine` a
view of the bad records of committed batches plus every record of a batch quarantined whole. A
record is never visible before its batch's `committed` event, whatever a reader does meanwhile.
Values reach SQL as parameters, never pasted into the text.
"""

from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import types as T

from ingestion.batch_status import BatchStatus
from ingestion.sources import SOURCES, Source
from ingestion.validation import typed_columns

log = logging.getLogger(__name__)

SCHEMA = "bronze"
EVENTS = "bronze.ingestion_batch_events"
BATCHES = "bronze.ingestion_batches"
QUARANTINE = "bronze.quarantine"
ALL_RECORDS_SUFFIX = "__all"

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
RESCUED = ("_rescued", T.MapType(T.StringType(), T.StringType()))
"""Per record, the text of every field the declaration does not know, and under the `rescue` and
`evolve` policies of every optional field whose value does not have its type (null when none)."""
REASON = ("_reason", T.StringType())
"""Why a record is bad (null for a good one): only in the table of all records."""
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
        T.StructField("started_at", T.TimestampType()),
        T.StructField("shape", T.StringType()),
    ]
)

_BATCHES_VIEW = f"""
create or replace view {BATCHES} as
with ranked as (
    select *, row_number() over (partition by batch_id order by event_at desc) as recency
    from {EVENTS}
),
started as (
    select batch_id, coalesce(min(started_at), min(event_at)) as started_at from {EVENTS} group by batch_id
)
select
    ranked.batch_id, ranked.source, ranked.seq, ranked.status,
    started.started_at,
    case when ranked.status != '{BatchStatus.STARTED}' then ranked.event_at end as finished_at,
    ranked.rows_good, ranked.rows_bad,
    get_json_object(ranked.plan, '$.topic') as kafka_topic,
    get_json_object(ranked.plan, '$.ranges') as kafka_offset_ranges,
    get_json_object(ranked.plan, '$.file') as file_name,
    get_json_object(ranked.plan, '$.sha256') as file_sha256,
    ranked.delta_version, ranked.note, ranked.plan, ranked.shape
from ranked
inner join started on ranked.batch_id = started.batch_id
where ranked.recency = 1
"""


def lineage_columns(source: Source) -> list[tuple[str, T.DataType]]:
    return FILE_LINEAGE if source.kind == "file" else KAFKA_LINEAGE


def bronze_columns(source: Source) -> list[tuple[str, T.DataType]]:
    """The columns readers see in `bronze.<source>` (besides the fields a source that evolves gained)."""
    return [*typed_columns(source), ("_raw", T.StringType()), RESCUED, *lineage_columns(source), *BATCH_COLUMNS]


def all_records_columns(source: Source) -> list[tuple[str, T.DataType]]:
    """The columns of `bronze.<source>__all`: the readers' ones and each record's reason."""
    return [*bronze_columns(source), REASON]


# Enforced by Delta on every write, so no dbt test has to scan bronze for it.
NOT_NULL = {"_batch_id"}

VISIBLE_BATCHES = f"select batch_id from {BATCHES} where status = '{BatchStatus.COMMITTED}'"
"""The batches whose good records readers see: the rule every reader of bronze goes through."""


def _ddl(columns: list[tuple[str, T.DataType]]) -> str:
    return ", ".join(
        f"`{name}` {dtype.simpleString()}" + (" not null" if name in NOT_NULL else "") for name, dtype in columns
    )


def _string_literal(text: str) -> str:
    """A SQL string literal (DDL takes no parameters); the declarations' own text only."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _bare(table: str) -> str:
    return table.split(".")[1]


_AUTO_COMPACT = "tblproperties ('delta.autoOptimize.autoCompact' = 'true')"
"""For the tables that take a small commit per batch: Delta compacts their files as they pile up
(every 50 small files), so that reading them does not slow down with the number of batches."""


def ensure_tables(spark: SparkSession, source: Source) -> None:
    """Create what is missing (one catalog look-up when everything exists, the usual case)."""
    spark.sql(f"create schema if not exists {SCHEMA}")
    existing = {row.tableName for row in spark.sql(f"show tables in {SCHEMA}").collect()}
    if {_bare(source.table), _bare(source.all_records), _bare(QUARANTINE), _bare(EVENTS), _bare(BATCHES)} <= existing:
        _add_new_event_columns(spark)
        _add_new_fields(spark, source)
        return
    spark.sql(f"create table if not exists {EVENTS} ({_ddl(_event_columns())}) using delta {_AUTO_COMPACT}")
    _add_new_event_columns(spark)
    spark.sql(_BATCHES_VIEW)
    if _is_table(spark, source.table):
        _move_to_all_records(spark, source)
    spark.sql(
        f"create table if not exists {source.all_records} ({_ddl(all_records_columns(source))}) using delta "
        f"comment {_string_literal(f'Every record of every batch, good or bad (`_reason`), as it arrived: {source.description}')} "
        f"{_AUTO_COMPACT}"
    )
    _create_visible_view(spark, source)
    _create_quarantine_view(spark)


def _is_table(spark: SparkSession, name: str) -> bool:
    return spark.catalog.tableExists(name) and spark.catalog.getTable(name).tableType != "VIEW"


def _move_to_all_records(spark: SparkSession, source: Source) -> None:
    """A data home from before bronze kept every record: the source's table becomes its table of
    all records, and its rows in the old quarantine table join it, so that the views show the same
    records as before."""
    spark.sql(f"alter table {source.table} rename to {source.all_records}")
    spark.sql(f"alter table {source.all_records} add columns ({_ddl([REASON])})")
    if _is_table(spark, QUARANTINE):
        present = set(spark.table(source.all_records).columns)
        moved = {
            "_raw": "raw",
            "_source_file": "source_file",
            "_source_line": "source_line",
            "_kafka_topic": "kafka_topic",
            "_kafka_partition": "kafka_partition",
            "_kafka_offset": "kafka_offset",
            "_batch_id": "batch_id",
            "_ingested_at": "quarantined_at",
            "_reason": "reason",
        }
        moved = {column: old for column, old in moved.items() if column in present}
        spark.sql(
            f"insert into {source.all_records} ({', '.join(moved)}) "
            f"select {', '.join(moved.values())} from {QUARANTINE} where source = :source",
            args={"source": source.name},
        )
    log.warning("%s: bronze moved to %s, with its quarantined records", source.name, source.all_records)


def _create_visible_view(spark: SparkSession, source: Source, evolved: list[str] | None = None) -> None:
    """`bronze.<source>`: the good records of the committed batches; under the `evolve` policy, with
    a text column for each field it gained (`evolved`; those it has when not given)."""
    if evolved is None:
        evolved = evolved_fields(spark, source)
    columns = ", ".join(
        [f"`{name}`" for name, _ in bronze_columns(source)]
        + [f"_rescued[{_string_literal(name)}] as `{name}`" for name in evolved]
    )
    spark.sql(
        f"create or replace view {source.table} comment {_string_literal(source.description)} as "
        f"select {columns} from {source.all_records} "
        f"where _reason is null and _batch_id in ({VISIBLE_BATCHES})"
    )


def evolved_fields(spark: SparkSession, source: Source) -> list[str]:
    """The columns `bronze.<source>` gained as the source evolved (none before its view exists)."""
    if not spark.catalog.tableExists(source.table):
        return []
    declared = {name.lower() for name, _ in bronze_columns(source)}
    return [name for name in spark.table(source.table).columns if name.lower() not in declared]


def evolve(spark: SparkSession, source: Source, new_fields: list[str]) -> list[str]:
    """Give `bronze.<source>` a text column for each new field it lacks (the lakehouse's own `_`
    names and a name already there in other case stay in `_rescued` only); the fields added. A batch
    without new fields (nearly all) costs no catalog look-up."""
    if not new_fields:
        return []
    present = evolved_fields(spark, source)
    taken = {name.lower() for name, _ in bronze_columns(source)} | {name.lower() for name in present}
    added: list[str] = []
    for name in new_fields:
        if name and not name.startswith("_") and "`" not in name and name.lower() not in taken:
            added.append(name)
            taken.add(name.lower())
    if added:
        _create_visible_view(spark, source, present + added)
        log.warning(
            "%s: bronze.%s gained the column(s) %s (schema policy evolve)", source.name, source.name, ", ".join(added)
        )
    return added


def _create_quarantine_view(spark: SparkSession) -> None:
    """`bronze.quarantine` over every source's table of all records: the bad records of committed
    batches, and every record of a batch quarantined whole (with the batch's reason where the
    record has none of its own). Made again whenever a source's table is created."""
    if _is_table(spark, QUARANTINE):
        _retire_quarantine_table(spark)
    names = sorted(
        row.tableName
        for row in spark.sql(f"show tables in {SCHEMA}").collect()
        if row.tableName.endswith(ALL_RECORDS_SUFFIX) and not row.isTemporary
    )
    parts = [_quarantine_rows(name, set(spark.table(f"{SCHEMA}.{name}").columns)) for name in names]
    spark.sql(f"create or replace view {QUARANTINE} as " + " union all ".join(parts))


def _retire_quarantine_table(spark: SparkSession) -> None:
    """The quarantine table of a data home from before bronze kept every record: its rows move to
    their sources' tables of all records (those not moved yet first), and it is kept, renamed, for
    the rows of sources no longer declared."""
    for source in SOURCES.values():
        if _is_table(spark, source.table):
            _move_to_all_records(spark, source)
    spark.sql(f"alter table {QUARANTINE} rename to {QUARANTINE}_before_all_records")


def _quarantine_rows(table: str, columns: set[str]) -> str:
    source = table.removesuffix(ALL_RECORDS_SUFFIX)
    types = dict(QUARANTINE_COLUMNS)

    def column(name: str, quarantine_name: str) -> str:
        value = f"records.{name}" if name in columns else "null"
        return f"cast({value} as {types[quarantine_name].simpleString()}) as {quarantine_name}"

    return f"""
select
    {_string_literal(source)} as source,
    records._batch_id as batch_id,
    {column("_source_file", "source_file")},
    {column("_source_line", "source_line")},
    {column("_kafka_topic", "kafka_topic")},
    {column("_kafka_partition", "kafka_partition")},
    {column("_kafka_offset", "kafka_offset")},
    records._raw as raw,
    coalesce(records._reason, concat('batch ', batches.batch_id, ' quarantined whole: ', batches.note)) as reason,
    records._ingested_at as quarantined_at
from {SCHEMA}.{table} as records
inner join {BATCHES} as batches on records._batch_id = batches.batch_id
where (batches.status = '{BatchStatus.COMMITTED}' and records._reason is not null)
    or batches.status = '{BatchStatus.QUARANTINED}'
"""


def _event_columns() -> list[tuple[str, T.DataType]]:
    return [(f.name, f.dataType) for f in EVENT_SCHEMA]


def _add_new_event_columns(spark: SparkSession) -> None:
    """A ledger of before gets the event columns added since (null in its events), and its view."""
    present = set(spark.table(EVENTS).columns)
    missing = [(name, dtype) for name, dtype in _event_columns() if name not in present]
    if missing:
        spark.sql(f"alter table {EVENTS} add columns ({_ddl(missing)})")
        spark.sql(_BATCHES_VIEW)


def _add_new_fields(spark: SparkSession, source: Source) -> None:
    """A field added to the source's declaration becomes a column (null in the rows before it)."""
    present = set(spark.table(source.all_records).columns)
    missing = [(name, dtype) for name, dtype in all_records_columns(source) if name not in present]
    if missing:
        spark.sql(f"alter table {source.all_records} add columns ({_ddl(missing)})")
        _create_visible_view(spark, source)


def ledger_exists(spark: SparkSession) -> bool:
    return spark.catalog.tableExists(EVENTS)


def read_events(spark: SparkSession, source_names: list[str]) -> list[Row]:
    """Every ledger event of the sources, oldest first (sorted here: an `order by` costs Spark a
    sampling job more)."""
    markers = ", ".join(f":source{n}" for n in range(len(source_names)))
    events = spark.sql(
        f"select batch_id, source, seq, status, event_at, plan, rows_good, rows_bad, delta_version, note, started_at, shape "
        f"from {EVENTS} where source in ({markers})",
        args={f"source{n}": name for n, name in enumerate(source_names)},
    ).collect()
    return sorted(events, key=lambda event: event.event_at)


def append_event(spark: SparkSession, row: tuple, writer_id: str) -> None:
    """One ledger event; its commit names the writer (`userMetadata`), so that a writer can tell
    its own commits from other processes' (`ledger_changed_by_others`)."""
    (
        spark.createDataFrame([row], EVENT_SCHEMA)
        .write.format("delta")
        .mode("append")
        .option("userMetadata", writer_id)
        .saveAsTable(EVENTS)
    )


def ledger_version(spark: SparkSession) -> int:
    return latest_version(spark, EVENTS)


LEDGER_LOOKBACK = 20
"""Commits of the ledger looked at to tell whether another process wrote since; more: assume so."""


def ledger_version_if_only_mine(spark: SparkSession, since_version: int, writer_id: str) -> int | None:
    """The ledger's version now, when every commit after `since_version` came from this writer
    (or was Delta's own compaction of its files); None when another process wrote since."""
    history = spark.sql(f"describe history {EVENTS} limit {LEDGER_LOOKBACK}").select(
        "version", "operation", "userMetadata"
    )
    commits = history.collect()
    for row in commits:
        if row.version <= since_version:
            return commits[0].version
        if row.userMetadata != writer_id and row.operation != "OPTIMIZE":
            return None
    return None


def append_idempotent(frame: DataFrame, table: str, app_id: str, version: int, metadata: str) -> None:
    """A Delta append that happens once per (`app_id`, `version`), whoever tries it again: a
    second try is skipped by Delta. `metadata` goes with the commit (`userMetadata`)."""
    (
        frame.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", version)
        .option("userMetadata", metadata)
        .saveAsTable(table)
    )


def recent_commits(spark: SparkSession, table: str, limit: int) -> list[tuple[int, str | None]]:
    """(Delta version, commit metadata) of the table's last `limit` commits, newest first."""
    history = spark.sql(f"describe history {table} limit {int(limit)}").select("version", "userMetadata")
    return [(row.version, row.userMetadata) for row in history.collect()]


def latest_version(spark: SparkSession, table: str) -> int:
    return spark.sql(f"describe history {table} limit 1").collect()[0].version


def batch_metrics(spark: SparkSession, source: Source, batch_id: str) -> dict[str, Any]:
    """A batch already in bronze, measured as its write observes it (`shapes.metrics`): a resumed
    batch takes its counts and shape from there."""
    from pyspark.sql import functions as F

    from ingestion.shapes import metrics

    row = spark.table(source.all_records).where(F.col("_batch_id") == batch_id).agg(*metrics(source)).first()
    assert row is not None  # an aggregate has one row
    return row.asDict()


def purge_batch(spark: SparkSession, source: Source, batch_id: str) -> int:
    """Delete a batch's records from bronze for good; the table's new Delta version."""
    spark.sql(f"delete from {source.all_records} where _batch_id = :batch_id", args={"batch_id": batch_id})
    return latest_version(spark, source.all_records)


BATCH_INPUT = (
    "coalesce(file_name, array_join(transform("
    "from_json(kafka_offset_ranges, 'array<struct<partition: int, start: bigint, end: bigint>>'), "
    "r -> concat('p', r.partition, ' ', r.start, if(r.end - 1 > r.start, concat('–', r.end - 1), ''))), ', '))"
)
"""What a batch of `bronze.ingestion_batches` read, for people: its file, or its offsets as `p0 6723–6727`
(first and last offset, as `OffsetRange` says them)."""


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
        f"{BATCH_INPUT} as input",
        "note",
    ).orderBy("started_at")
