"""`lakehouse publish`: the gold tables and the batch ledger, copied into PostgreSQL for OLAP tools.

Each table is loaded beside its published copy (`<table>__loading`, with COPY) and swapped in by one
transaction, so readers see the old rows or the new ones, never half, and publishing twice gives the
same rows. Types keep their meaning: decimals stay `numeric(p, s)`, timestamps become `timestamptz`.
The target is the project's own PostgreSQL (started when needed) or `LAKEHOUSE_POSTGRES_URL`.

Who reads what there: the roles `lakehouse_viewer` and `lakehouse_analyst` read `gold_masked`, gold
with its personal columns masked by the same keyed hash as the API; `lakehouse_admin` reads `gold`
and the ledger. A person's login role is granted one of them (`grant lakehouse_viewer to vera`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from ingestion.errors import LakehouseError
from lakehouse.serving.access import Role, User, personal, readable_frame
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


MASKED_SCHEMA = "gold_masked"
READER_ROLES = {"lakehouse_viewer": MASKED_SCHEMA, "lakehouse_analyst": MASKED_SCHEMA, "lakehouse_admin": None}
"""PostgreSQL roles (no login: a reader's own login role is granted one) and the schema each reads:
viewers and analysts `gold_masked` (gold with personal columns masked, as in the API), admins `gold`
and `bronze` (the ledger) as published."""


def publish_table(spark: SparkSession, db, table: str, roles: bool = True) -> Published:
    """Load `table` beside its published copy and swap it in; for gold, also its reader-safe twin
    in `gold_masked`: a view when no column is personal, else a copy with those columns masked."""
    from psycopg import sql

    started = time.monotonic()
    schema_name, table_name = table.split(".")
    frame = spark.table(table)
    readers = [role for role, schema in READER_ROLES.items() if schema is None] if roles else []
    masked_readers = [role for role, schema in READER_ROLES.items() if schema == MASKED_SCHEMA] if roles else []
    twin = sql.Identifier(MASKED_SCHEMA, table_name)

    def as_view(cursor) -> None:
        cursor.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(MASKED_SCHEMA)))
        view = sql.SQL("create view {} as select * from {}").format(twin, sql.Identifier(schema_name, table_name))
        cursor.execute(view)
        _grant(cursor, MASKED_SCHEMA, table_name, masked_readers)

    hidden = schema_name == "gold" and personal(table)
    rows = _load(
        db,
        frame,
        schema_name,
        table_name,
        table,
        readers,
        then=as_view if schema_name == "gold" and not hidden else None,
    )
    if hidden:
        masked = readable_frame(frame, table, User("PostgreSQL readers", Role.VIEWER))
        _load(db, masked, MASKED_SCHEMA, table_name, table, masked_readers)
    seconds = time.monotonic() - started
    log.info("%s: %s rows published in %.1fs", table, rows, seconds)
    return Published(table, rows, seconds)


def _load(db, frame, schema_name: str, table_name: str, source: str, readers: list[str], then=None) -> int:
    """COPY `frame` into `<schema>.<table>__loading`, then in one transaction drop the published
    table (and the views on it), rename the new one, grant `readers` and run `then(cursor)`."""
    from psycopg import sql

    schema, target = sql.Identifier(schema_name), sql.Identifier(schema_name, table_name)
    loading = sql.Identifier(schema_name, f"{table_name}__loading")
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
        cursor.execute(sql.SQL("drop table if exists {} cascade").format(target))
        cursor.execute(sql.SQL("alter table {} rename to {}").format(loading, sql.Identifier(table_name)))
        comment = sql.Literal(f"published from the lakehouse table {source}")
        cursor.execute(sql.SQL("comment on table {} is {}").format(target, comment))
        _grant(cursor, schema_name, table_name, readers)
        if then is not None:
            then(cursor)
    return rows


def _grant(cursor, schema_name: str, table_name: str, roles: list[str]) -> None:
    from psycopg import sql

    for role in map(sql.Identifier, roles):
        cursor.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema_name), role))
        cursor.execute(sql.SQL("grant select on {} to {}").format(sql.Identifier(schema_name, table_name), role))


def ensure_reader_roles(db) -> bool:
    """The reader roles exist (created when missing); False when this login may not create roles
    (an existing PostgreSQL): the tables are published without grants, and a warning says so."""
    from psycopg import errors, sql

    existing = {name for (name,) in db.execute("select rolname from pg_roles").fetchall()}
    try:
        for role in READER_ROLES:
            if role not in existing:
                db.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    except errors.InsufficientPrivilege as error:
        log.warning("PostgreSQL reader roles not created (%s): tables published without grants", str(error).strip())
        return False
    return True


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
        roles = ensure_reader_roles(db)
        return [publish_table(spark, db, table, roles) for table in tables]


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
