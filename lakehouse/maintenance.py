"""Table maintenance (`lakehouse maintain`): every Delta table of the lakehouse compacted (OPTIMIZE),
then vacuumed of the files that no version within the retention uses.

No reader here needs a removed file: rollback, replay and purge read the current bronze and the
ledger (a rollback is a ledger event, a replay reads its file or Kafka offsets again), and dbt reads
current versions only. The retention, LAKEHOUSE_VACUUM_RETAIN_HOURS (7 days by default, Delta's
own), protects queries still reading an older snapshot. Delta writes a log checkpoint every ten
commits by itself; the ledger compacts itself as it grows (auto compaction)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import SparkSession

from ingestion.config import settings

log = logging.getLogger(__name__)

SCHEMAS = ("bronze", "reference", "silver", "gold")


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


def maintain(spark: SparkSession, retain_hours: float | None = None) -> list[Maintained]:
    hours = settings().vacuum_retain_hours if retain_hours is None else retain_hours
    # Delta refuses a retention under its default unless the caller says it has checked (see the
    # module's docstring). Logged, a VACUUM leaves its figures in the table's history.
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    spark.conf.set("spark.databricks.delta.vacuum.logging.enabled", "true")
    done = []
    for table in delta_tables(spark):
        before = _files(spark, table)
        spark.sql(f"optimize {table}").collect()
        spark.sql(f"vacuum {table} retain {hours:g} hours").collect()
        end = spark.sql(f"describe history {table} limit 1").collect()[0]
        removed = int(end.operationMetrics.get("numDeletedFiles", 0)) if end.operation == "VACUUM END" else 0
        done.append(Maintained(table, before, _files(spark, table), removed, hours))
        log.info(done[-1].describe())
    return done
