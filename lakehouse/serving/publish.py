"""`lakehouse publish`: the gold tables and the batch ledger, copied into PostgreSQL for OLAP tools.

Each table is loaded beside its published copy (`<table>__loading`, with COPY) and swapped in by one
transaction, so readers see the old rows or the new ones, never half, and publishing twice gives the
same rows. Types keep their meaning: decimals stay `numeric(p, s)`, timestamps become `timestamptz`.
The target is the project's own PostgreSQL (started when needed) or `LAKEHOUSE_POSTGRES_URL`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from ingestion.errors import LakehouseError
from lakehouse.serving.export import CHUNK_ROWS, chunks, utc
from lakehouse.settings import settings

log = logging.getLogger(__name__)

LEDGER = "bronze.ingestion_batches"


@dataclass(frozen=True)
class Published:
    table: str
    rows: int
    seconds: float


def postgres_type(spark_type: T.DataType) -> str:
    if isinstance(spark_type, T.DecimalType):
        return f"numeric({spark_type.precision}, {spark_type.scale})"
    simple = {
        T.StringType: "text",
        T.VarcharType: "text",
        T.CharType: "text",
        T.BooleanType: "boolean",
        T.ByteType: "smallint",
        T.ShortType: "smallint",
        T.IntegerType: "integer",
        T.LongType: "bigint",
        T.FloatType: "real",
        T.DoubleType: "double precision",
        T.DateType: "date",
        T.TimestampType: "timestamptz",
        T.TimestampNTZType: "timestamp",
        T.BinaryType: "bytea",
    }
    for spark_class, name in simple.items():
        if isinstance(spark_type, spark_class):
            return name
    return "jsonb"  # arrays, maps, structs


def tables_to_publish(spark: SparkSession) -> list[str]:
    gold = sorted(f"gold.{row.tableName}" for row in spark.sql("show tables in gold").collect())
    return [*gold, LEDGER] if spark.catalog.tableExists(LEDGER) else gold


def target_url() -> str:
    """Where to publish: LAKEHOUSE_POSTGRES_URL, else the project's own PostgreSQL (started if needed)."""
    if settings().postgres_url:
        return settings().postgres_url
    from lakehouse.services.postgres import PostgresServer, local_url

    server = PostgresServer(settings())
    if not server.status().running:
        server.start()
    return local_url(settings())


def _value(value: object, column_type: str) -> object:
    if value is None:
        return None
    if isinstance(value, datetime):
        return utc(value) if column_type == "timestamptz" else value
    if column_type == "jsonb":
        import json

        from psycopg.types.json import Jsonb

        return Jsonb(json.loads(json.dumps(value, default=str)))
    return value


def publish_table(spark: SparkSession, db, table: str) -> Published:
    from psycopg import sql

    started = time.monotonic()
    schema_name, table_name = table.split(".")
    schema, target = sql.Identifier(schema_name), sql.Identifier(schema_name, table_name)
    loading = sql.Identifier(schema_name, f"{table_name}__loading")
    frame = spark.table(table)
    columns = [(field.name, postgres_type(field.dataType)) for field in frame.schema.fields]
    definition = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(kind)) for column, kind in columns
    )
    with db.transaction():
        db.execute(sql.SQL("create schema if not exists {}").format(schema))
        db.execute(sql.SQL("drop table if exists {}").format(loading))
        db.execute(sql.SQL("create table {} ({})").format(loading, definition))
    rows = 0
    column_list = sql.SQL(", ").join(sql.Identifier(column) for column, _ in columns)
    with db.transaction(), db.cursor() as cursor:
        with cursor.copy(sql.SQL("copy {} ({}) from stdin").format(loading, column_list)) as copy:
            for chunk in chunks(frame.toLocalIterator(), CHUNK_ROWS):
                for row in chunk:
                    copy.write_row([_value(v, kind) for v, (_, kind) in zip(row, columns, strict=True)])
                rows += len(chunk)
        cursor.execute(sql.SQL("drop table if exists {}").format(target))
        cursor.execute(sql.SQL("alter table {} rename to {}").format(loading, sql.Identifier(table_name)))
        comment = sql.Literal(f"published from the lakehouse table {table}")
        cursor.execute(sql.SQL("comment on table {} is {}").format(target, comment))
    seconds = time.monotonic() - started
    log.info("%s: %s rows published in %.1fs", table, rows, seconds)
    return Published(table, rows, seconds)


def publish(spark: SparkSession, tables: list[str] | None = None, url: str | None = None) -> list[Published]:
    """Copy the tables (default: every gold table and the ledger) into PostgreSQL."""
    import psycopg

    publishable = tables_to_publish(spark)
    unknown = [t for t in tables or [] if t not in publishable]
    if unknown:
        raise LakehouseError(
            f"cannot publish {', '.join(map(repr, unknown))}: not a gold table or the ledger",
            hint=f"name any of {', '.join(publishable)}",
        )
    tables = tables or publishable
    url = url or target_url()
    try:
        db = psycopg.connect(url, connect_timeout=10, autocommit=True)
    except psycopg.OperationalError as error:
        raise LakehouseError(
            f"cannot connect to PostgreSQL at {_without_password(url)}: {str(error).strip()}",
            hint="start it with `lakehouse postgres start`, or fix LAKEHOUSE_POSTGRES_URL",
        ) from None
    with db:
        return [publish_table(spark, db, table) for table in tables]


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
