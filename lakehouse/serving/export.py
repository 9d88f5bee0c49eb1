"""`lakehouse export`: one lakehouse table into one CSV or Parquet file, in bounded memory.

Rows stream from the Spark server (Spark Connect sends them in Arrow batches) and are written a
chunk at a time, so memory holds one chunk whatever the table's size. Timestamps are written in
UTC (ISO 8601 with the offset in CSV), decimals with all their digits.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from pyspark.sql import SparkSession

from ingestion.errors import LakehouseError
from lakehouse.serving.access import Role, User, may_read, personal, readable_frame, refusal

SCHEMAS = ("bronze", "staging", "silver", "gold")
CHUNK_ROWS = 50_000


def resolve_table(spark: SparkSession, name: str) -> str:
    """`schema.table` of a lakehouse table (a bare name is looked up in gold, then silver, bronze)."""
    candidates = [name] if "." in name else [f"{schema}.{name}" for schema in ("gold", "silver", "bronze")]
    for candidate in candidates:
        schema, _, table = candidate.partition(".")
        if schema in SCHEMAS and table.replace("_", "").isalnum() and spark.catalog.tableExists(candidate):
            return candidate
    built = spark.catalog.databaseExists("gold")
    gold = (
        sorted(table.name for table in spark.catalog.listTables("gold") if table.tableType != "VIEW") if built else []
    )
    raise LakehouseError(
        f"no lakehouse table {name!r}",
        hint=f"name a table of {', '.join(SCHEMAS)}; gold holds {', '.join(gold) or 'nothing yet'}",
    )


def utc(value: datetime) -> datetime:
    """PySpark hands timestamps back as naive datetimes in the process's local time zone."""
    return value.astimezone(UTC)


def _csv_text(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, date | Decimal):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def chunks(rows: Iterable, size: int) -> Iterator[list]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def export_table(
    spark: SparkSession, name: str, fmt: str, out: Path, role: Role = Role.ADMIN
) -> tuple[str, int, list[str]]:
    """Write the table, as `role` may see it, to `out`; (the table's full name, rows written, the
    columns masked)."""
    table = resolve_table(spark, name)
    user = User(f"an export for a {role}", role)
    if not may_read(user, table):
        raise LakehouseError(refusal(user, table), hint="export a table of gold (viewer) or silver (analyst)")
    frame = readable_frame(spark.table(table), table, user)
    masked = [] if role.unmasked else sorted(personal(table) & set(frame.columns))
    columns = frame.columns
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")  # a failed export leaves no half file under `out`
    written = 0
    if fmt == "csv":
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for chunk in chunks(frame.toLocalIterator(), CHUNK_ROWS):
                writer.writerows([_csv_text(value) for value in row] for row in chunk)
                written += len(chunk)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        from pyspark.sql.pandas.types import to_arrow_schema

        schema = to_arrow_schema(frame.schema)
        with pq.ParquetWriter(partial, schema) as writer:
            for chunk in chunks(frame.toLocalIterator(), CHUNK_ROWS):
                records = [[utc(v) if isinstance(v, datetime) else v for v in row] for row in chunk]
                arrays = [pa.array([r[i] for r in records], type=schema.field(i).type) for i in range(len(columns))]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                written += len(chunk)
    else:
        raise LakehouseError(f"unknown export format {fmt!r}", hint="csv or parquet")
    partial.replace(out)
    return table, written, masked
