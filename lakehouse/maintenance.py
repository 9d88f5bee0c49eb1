"""Table maintenance (`lakehouse maintain`, Dagster's `maintain_tables`): every Delta table of the
lakehouse compacted (OPTIMIZE), then vacuumed of the files no version it must keep uses.

What VACUUM may remove is derived from the readers that still need older versions, never a guess:
- rollback, replay and purge read the current bronze and the ledger (a rollback is a ledger event,
  a replay reads its file or Kafka offsets again), so they need no removed file;
- a gold model that records, in its commit's metadata (`lakehouse_upstream_versions`), the input
  versions it has absorbed reads their changes from the next one: that input keeps every file since.
The retention is the longest of those needs and LAKEHOUSE_VACUUM_RETAIN_HOURS (7 days by default,
Delta's own, for queries still reading an older snapshot). Delta writes a log checkpoint every ten
commits by itself; the ledger compacts itself as it grows (auto compaction)."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import SparkSession

from ingestion.config import settings

log = logging.getLogger(__name__)

SCHEMAS = ("bronze", "reference", "silver", "gold")
ABSORBED = "lakehouse_upstream_versions"


@dataclass
class Maintained:
    table: str
    files_before: int
    files_after: int
    vacuumed_files: int
    retain_hours: float
    needed_by: str | None

    def describe(self) -> str:
        kept = f"history kept {self.retain_hours:g} h" + (f" ({self.needed_by})" if self.needed_by else "")
        return f"{self.table}: {self.files_before} → {self.files_after} files, {self.vacuumed_files} removed, {kept}"


def delta_tables(spark: SparkSession) -> list[str]:
    existing = {row.namespace for row in spark.sql("show schemas").collect()}
    return [
        f"{schema}.{table.name}"
        for schema in SCHEMAS
        if schema in existing
        for table in spark.catalog.listTables(schema)
        if table.tableType != "VIEW" and not table.isTemporary
    ]


def _history(spark: SparkSession, table: str, limit: int | None = None) -> list:
    return spark.sql(f"describe history {table}" + (f" limit {limit}" if limit else "")).collect()


def needed_since(spark: SparkSession, tables: list[str]) -> dict[str, tuple[datetime, str]]:
    """Per input table, the oldest commit a gold model has not absorbed yet, and that model."""
    by_name = {table.split(".", 1)[1]: table for table in tables}
    needs: dict[str, tuple[datetime, str]] = {}
    for reader in (table for table in tables if table.startswith("gold.")):
        absorbed = next(
            (json.loads(row.userMetadata)[ABSORBED] for row in _history(spark, reader, 50)
             if row.userMetadata and ABSORBED in row.userMetadata),
            {},
        )  # fmt: skip
        for name, version in absorbed.items():
            upstream = by_name.get(name)
            if upstream is None:
                continue
            unread = [row.timestamp for row in _history(spark, upstream) if row.version > version]
            if unread and (upstream not in needs or min(unread) < needs[upstream][0]):
                needs[upstream] = (min(unread), reader)
    return needs


def _files(spark: SparkSession, table: str) -> int:
    return spark.sql(f"describe detail {table}").collect()[0].numFiles


def maintain(spark: SparkSession, floor_hours: float | None = None) -> list[Maintained]:
    floor = settings().vacuum_retain_hours if floor_hours is None else floor_hours
    tables = delta_tables(spark)
    needs = needed_since(spark, tables)
    now = spark.sql("select current_timestamp()").collect()[0][0]  # the clock of the history's timestamps
    # Delta refuses a retention under its default unless told that the caller has checked: here
    # every reader's need is in `needs`. Logged, a VACUUM leaves its figures in the table's history.
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    spark.conf.set("spark.databricks.delta.vacuum.logging.enabled", "true")
    done = []
    for table in tables:
        before = _files(spark, table)
        spark.sql(f"optimize {table}").collect()
        hours, needed_by = floor, None
        if table in needs:
            since, reader = needs[table]
            need = math.ceil((now - since).total_seconds() / 3600) + 1
            if need > hours:
                hours, needed_by = need, f"{reader} has not read its changes since {since:%Y-%m-%d %H:%M}"
        spark.sql(f"vacuum {table} retain {hours:g} hours").collect()
        end = _history(spark, table, 1)[0]
        removed = int(end.operationMetrics.get("numDeletedFiles", 0)) if end.operation == "VACUUM END" else 0
        done.append(Maintained(table, before, _files(spark, table), removed, hours, needed_by))
        log.info(done[-1].describe())
    return done
