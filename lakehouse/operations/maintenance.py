"""Table maintenance (`lakehouse maintain`, and the Dagster schedule `nightly_maintenance`): every
Delta table of the lakehouse compacted (OPTIMIZE), then vacuumed of the files that no version within
the retention uses.

What the retention must keep follows from the ledger: rollback, replay and purge read the current
bronze and the ledger only (a rollback is a ledger event, a replay reads its file or Kafka offsets
again), so a batch that can still be rolled back or replayed needs no removed file, and dbt reads
current versions only. LAKEHOUSE_VACUUM_RETAIN_HOURS (7 days by default, Delta's own) protects
queries still reading an older snapshot and time travel. A gold model that follows silver by its
change data feed recomputes whole once after a VACUUM of what it reads (macros/replace_changed.sql). Between runs, the small-commit tables
(the ledger, bronze's record tables, silver) compact themselves (auto compaction), and Delta
writes a log checkpoint every ten commits, so their logs stay short."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import SparkSession

from ingestion.errors import LakehouseError
from ingestion.spark import parallelism, session_settings
from lakehouse.settings import settings

SCHEMAS = ("bronze", "reference", "silver", "gold", "ops")


@dataclass
class Maintained:
    table: str
    files_before: int
    files_after: int
    vacuumed_files: int
    retain_hours: float

    def describe(self) -> str:
        return (
            f"{self.table}: {self.files_before} → {self.files_after} files, {self.vacuumed_files} removed, "
            f"history kept {self.retain_hours:g} h"
        )


def delta_tables(spark: SparkSession) -> list[str]:
    existing = {row.namespace for row in spark.sql("show schemas").collect()}
    return [
        f"{schema}.{table.name}"
        for schema in SCHEMAS
        if schema in existing
        for table in spark.catalog.listTables(schema)
        if table.tableType != "VIEW" and not table.isTemporary
    ]


def _files(spark: SparkSession, table: str) -> int:
    return spark.sql(f"describe detail {table}").collect()[0].numFiles


def maintain(
    spark: SparkSession, retain_hours: float | None = None, tables: list[str] | None = None
) -> list[Maintained]:
    """Every Delta table of the lakehouse, or only `tables` (`schema.table`)."""
    hours = settings().vacuum_retain_hours if retain_hours is None else retain_hours
    every = delta_tables(spark)
    unknown = [table for table in tables or [] if table not in every]
    if unknown:
        raise LakehouseError(
            f"no Delta table {', '.join(unknown)} to maintain",
            hint=f"name tables of {', '.join(SCHEMAS)} as schema.table, e.g. {every[0] if every else 'gold.fct_order_lines'}",
        )
    conf = {
        # Delta refuses a retention under its default unless the caller says it has checked (see
        # the module's docstring). Logged, a VACUUM leaves its figures in the table's history.
        "spark.databricks.delta.retentionDurationCheck.enabled": "false",
        "spark.databricks.delta.vacuum.logging.enabled": "true",
        # VACUUM lists a table's directory in this many tasks (10,000 by default): on a few cores
        # that alone took 20-45 s for a table of a handful of files, and 1-2 s with one per core.
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": str(parallelism(spark)),
    }
    done = []
    with session_settings(spark, conf):
        for table in tables or every:
            done.append(_maintain_table(spark, table, hours))
    return done


def _maintain_table(spark: SparkSession, table: str, hours: float) -> Maintained:
    before = _files(spark, table)
    spark.sql(f"optimize {table}").collect()
    spark.sql(f"vacuum {table} retain {hours:g} hours").collect()
    end = spark.sql(f"describe history {table} limit 1").collect()[0]
    removed = int(end.operationMetrics.get("numDeletedFiles", 0)) if end.operation == "VACUUM END" else 0
    return Maintained(table, before, _files(spark, table), removed, hours)
