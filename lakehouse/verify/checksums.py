"""A fingerprint of every gold table: its rows and an order-independent checksum of their values,
so two builds (two versions of the code, local and cluster mode) can be compared at a glance."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def table_checksum(spark: SparkSession, table: str) -> tuple[int, str]:
    """(rows, checksum): the sum of every row's xxhash64 over all its columns, in hex."""
    frame = spark.table(table)
    row_hash = F.xxhash64(*[F.col(f"`{name}`") for name in sorted(frame.columns)]).cast("decimal(38,0)")
    rows, total = frame.agg(F.count(F.lit(1)), F.coalesce(F.sum(row_hash), F.lit(0))).first()
    return rows, f"{int(total) & (2**64 - 1):016x}"


def gold_checksums(spark: SparkSession, schema: str = "gold") -> list[tuple[str, int, str]]:
    tables = sorted(row.tableName for row in spark.sql(f"show tables in {schema}").collect())
    return [(name, *table_checksum(spark, f"{schema}.{name}")) for name in tables]


def checksum_lines(checksums: list[tuple[str, int, str]]) -> list[str]:
    width = max((len(name) for name, _, _ in checksums), default=0)
    return [f"  {name:<{width}}  {rows:>8} rows  {checksum}" for name, rows, checksum in checksums]
