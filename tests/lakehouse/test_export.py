"""`lakehouse export`: a table into one CSV or Parquet file, every row, types kept."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow.parquet as pq

from ingestion.api import Options, ingest
from ingestion.sources import get_source
from tests.conftest import lakehouse_cli, land, rows

HEADER = "transaction_id,customer_id,product_id,quantity,unit_price,currency,transaction_timestamp,country,payment_method,status\n"


def test_a_table_exports_to_csv_and_parquet_with_every_row(spark, tmp_path):
    land(
        "transactions",
        "export_probe.csv",
        HEADER + "EXP1,C00042,101,2,12.5,EUR,2026-11-01T10:00:00Z,France,card,completed\n",
    )
    ingest(spark, get_source("transactions"), Options(settle_seconds=0))
    total = rows(spark, "select count(*) from bronze.transactions")[0][0]

    as_csv = lakehouse_cli("export", "bronze.transactions", "--format", "csv", "--out", str(tmp_path / "t.csv"))
    assert as_csv.returncode == 0, as_csv.stderr
    assert f"bronze.transactions: {total} rows written" in as_csv.stdout
    with (tmp_path / "t.csv").open(newline="") as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == total
    probe = next(r for r in records if r["transaction_id"] == "EXP1")
    assert (probe["quantity"], probe["unit_price"], probe["transaction_at"], probe["country"]) == (
        "2", "12.5000", "2026-11-01T10:00:00+00:00", "France",
    )  # fmt: skip

    as_parquet = lakehouse_cli(
        "export", "bronze.transactions", "--format", "parquet", "--out", str(tmp_path / "t.parquet")
    )
    assert as_parquet.returncode == 0, as_parquet.stderr
    table = pq.read_table(tmp_path / "t.parquet")
    assert table.num_rows == total and table.column_names == list(records[0])
    probe = next(r for r in table.to_pylist() if r["transaction_id"] == "EXP1")
    assert probe["unit_price"] == Decimal("12.5000")
    assert probe["transaction_at"] == datetime(2026, 11, 1, 10, tzinfo=UTC)


def test_an_unknown_table_is_a_clear_error(spark, tmp_path):
    result = lakehouse_cli("export", "nosuch; drop table x", "--out", str(tmp_path / "x.csv"))
    assert result.returncode == 1
    assert "no lakehouse table 'nosuch; drop table x'" in result.stderr and "Traceback" not in result.stderr
    assert "hint: name a table of bronze, staging, silver, gold; gold holds " in result.stderr
    assert not (tmp_path / "x.csv").exists()
