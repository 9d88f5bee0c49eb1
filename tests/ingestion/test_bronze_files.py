"""Files land in bronze exactly once, with lineage, a ledger, quarantine and whole-batch quarantine."""

from __future__ import annotations

import json
import random
import re

import pytest

from ingestion.batch import Options
from ingestion.errors import LakehouseError
from ingestion.files import ingest_files
from ingestion.lines import LineFile, line_file, staged_lines
from ingestion.sources import get_source
from ingestion.spark import session_settings
from ingestion.storage import LocalFolder, StoredFile, local_file
from lakehouse.samples.records import server_logs
from tests.conftest import land, own_source, rows

HEADER = "transaction_id,customer_id,product_id,quantity,unit_price,currency,transaction_timestamp,country,payment_method,status\n"


def _tx(n: int, quantity: str = "1") -> str:
    return (
        f"T{n:05d},C{n % 7},{101 + n % 12},{quantity},12.50,EUR,2026-11-01T10:{n % 60:02d}:00Z,France,card,completed\n"
    )


def test_files_are_ingested_once_and_a_new_version_again(spark):
    source = own_source("transactions", "once")
    options = Options(batch_rows=400)
    land(source.name, "export_a.csv", HEADER + "".join(_tx(n) for n in range(1000)))
    land(source.name, "export_b.csv", HEADER + "".join(_tx(n) for n in range(1000, 1100)))
    land(source.name, "growing.csv", HEADER + _tx(5000), settled=False)

    first = ingest_files(spark, source, options)
    # Spark splits a CSV file: one batch per file, whatever `batch_rows`; the growing one waits.
    assert [(b.plan.file, b.rows_good, b.plan.eof) for b in first] == [
        ("export_a.csv", 1000, True),
        ("export_b.csv", 100, True),
    ]
    assert rows(spark, f"select count(*), count(distinct transaction_id) from {source.table}") == [(1100, 1100)]

    land(source.name, "growing.csv", HEADER + _tx(5000) + _tx(5001), settled=False)  # still growing
    assert ingest_files(spark, source, options) == []  # the same landing zone adds nothing
    assert rows(spark, f"select count(*) from {source.table}") == [(1100,)]

    land(source.name, "export_b.csv", HEADER + "".join(_tx(n) for n in range(1000, 1150)))
    land(source.name, "growing.csv", HEADER + _tx(5000) + _tx(5001))  # now complete and stable
    again = ingest_files(spark, source, options)
    assert sorted((b.plan.file, b.rows_good) for b in again) == [("export_b.csv", 150), ("growing.csv", 2)]
    versions = rows(
        spark,
        f"select count(distinct file_sha256) from bronze.ingestion_batches where source = '{source.name}' "
        "and file_name = 'export_b.csv'",
    )
    assert versions == [(2,)]
    assert rows(spark, f"select count(*) from {source.table}") == [(1252,)]

    lineage = rows(
        spark,
        "select _source_file, _source_line, quantity, unit_price, cast(transaction_at as string), _batch_id "
        f"from {source.table} where transaction_id = 'T00003'",
    )
    assert lineage == [("export_a.csv", 5, 1, 12.5, "2026-11-01 10:03:00", f"{source.name}-000001")]


def test_a_file_python_reads_lands_in_batches_of_at_most_batch_rows(spark):
    """A file that Spark cannot split line by line (a JSON array) is read by Python, in batches."""
    post = {"user_id": "u1", "platform": "tiktok", "posted_at": "2026-11-02T08:00:00Z"}
    posts = [json.dumps({"post_id": f"PA{n}", **post}) for n in range(1000)]
    source = own_source("social_posts", "array")
    land(source.name, "array.json", "[\n" + ",\n".join(posts) + "\n]\n")

    batches = ingest_files(spark, source, Options(batch_rows=400))

    assert [(b.plan.file, b.rows_good, b.plan.eof) for b in batches] == [
        ("array.json", 400, False),
        ("array.json", 400, False),
        ("array.json", 200, True),
    ]
    assert rows(spark, f"select _source_line from {source.table} where post_id in ('PA3', 'PA999')") == [
        (5,),
        (1001,),
    ]


def test_line_numbers_hold_across_the_splits_spark_reads_a_file_in(spark):
    """Spark reads a large file in parallel splits; every record still gets its own line number,
    counted in the same pass that writes it, whatever the line endings."""
    rng = random.Random(5)
    lines = list(server_logs(rng, 40_000))
    lines[1200:1200] = ["", "-- log rotated --"]  # a blank line (no record) and a bad one
    endings = ["\n", "\r\n", "\n", "\r"]
    content = "".join(line + rng.choice(endings) for line in lines)
    lines = re.split(r"\r\n|\n|\r", content)[:-1]  # as Hadoop's reader splits them ("\r" + "\n" is one break)
    source = own_source("server_logs", "split")
    path = land(source.name, "split.log", content)
    file = local_file(path)

    # Splits of 1 MiB, as a server with 8 cores would read it (this one has fewer).
    many = line_file(source, file, parallelism=8)
    assert many.split_bytes == 1 << 20 and len(many.lines_before) == -(-file.size // (1 << 20)) >= 6
    with session_settings(spark, many.read_settings):
        staged = staged_lines(spark, source, many).select("_source_line", "_raw").collect()
    assert sorted((row._source_line, row._raw) for row in staged) == [
        (number, line) for number, line in enumerate(lines, start=1) if line
    ]

    (batch,) = ingest_files(spark, source, Options(bad_share_threshold=0.9))
    landed = rows(spark, f"select _source_line, _raw from {source.table} where _source_file = 'split.log'")
    assert batch.rows_good + batch.rows_bad == sum(1 for line in lines if line) and len(landed) == batch.rows_good
    assert all(raw == lines[line - 1] for line, raw in landed)
    rotated = lines.index("-- log rotated --") + 1
    assert (rotated, "not a combined log format line") in rows(
        spark, f"select source_line, reason from bronze.quarantine where batch_id = '{batch.batch_id}'"
    )


def test_a_file_the_spark_server_cannot_see_is_a_clear_error(spark, tmp_path):
    """As with a server on another machine than a local landing folder: said, with what to do."""
    unseen = StoredFile(LocalFolder(tmp_path / "elsewhere"), "access.log", size=10, mtime_ns=0)

    with pytest.raises(LakehouseError) as raised:
        staged_lines(spark, get_source("server_logs"), LineFile(unseen, clean=True))

    assert str(raised.value).startswith(
        f"The Spark server cannot read the landing file {tmp_path}/elsewhere/access.log"
    )
    assert "LAKEHOUSE_LANDING=hdfs://" in raised.value.hint


def test_bad_records_go_to_quarantine_with_a_reason_and_the_batch_goes_on(spark):
    source = own_source("transactions", "defects")
    body = HEADER + "".join(_tx(n) for n in range(20000, 20040))
    body += _tx(20040, quantity="abc") + "T20041,,101,1,1,EUR,2026-11-01T10:00:00Z,FR,card,ok\n" + "T20042,C1,101\n"
    land(source.name, "with_defects.csv", body)

    (batch,) = ingest_files(spark, source, Options())

    assert (batch.status, batch.rows_good, batch.rows_bad) == ("committed", 40, 3)
    assert rows(
        spark,
        f"select source_line, reason from bronze.quarantine where batch_id = '{batch.batch_id}' order by source_line",
    ) == [
        (42, 'quantity "abc" is not an integer'),
        (43, "missing required field customer_id"),
        (44, "expected 10 columns, found 3"),
    ]
    assert rows(spark, f"select count(*) from {source.table} where transaction_id in ('T20040', 'T20041')") == [(0,)]


def test_a_batch_above_the_bad_share_threshold_is_quarantined_whole(spark):
    source = own_source("transactions", "mostly_bad")
    body = HEADER + "".join(_tx(n, quantity="x" if n % 2 else "1") for n in range(30000, 30010))
    land(source.name, "mostly_bad.csv", body)

    (batch,) = ingest_files(spark, source, Options(bad_share_threshold=0.2, bad_min_records=5))

    assert (batch.status, batch.rows_good, batch.rows_bad) == ("quarantined", 0, 10)
    assert rows(spark, f"select count(*) from {source.table} where _source_file = 'mostly_bad.csv'") == [(0,)]
    reasons = rows(spark, f"select reason from bronze.quarantine where batch_id = '{batch.batch_id}'")
    assert len(reasons) == 10
    assert sum("quarantined whole" in reason for (reason,) in reasons) == 5
    assert rows(spark, f"select status from bronze.ingestion_batches where batch_id = '{batch.batch_id}'") == [
        ("quarantined",)
    ]


@pytest.mark.parametrize(
    ("name", "bad", "threshold", "minimum", "whole"),
    [
        ("share_above_minimum_reached.csv", 3, 0.2, 3, True),  # 30 % > 20 %, 3 bad >= 3
        ("share_above_minimum_missed.csv", 3, 0.2, 4, False),  # too few bad records: they alone go
        ("share_at_threshold.csv", 2, 0.2, 1, False),  # 20 % is not above 20 %
        ("share_just_above.csv", 3, 0.29, 1, True),  # 30 % > 29 %
    ],
)
def test_whole_batch_rule_needs_share_and_count(spark, name, bad, threshold, minimum, whole):
    """Whole-batch quarantine needs a bad share above the threshold and a minimum of bad records,
    so a small file with a few bad lines still lands its good ones."""
    source = own_source("transactions", name.removesuffix(".csv"))
    body = HEADER + "".join(_tx(n, quantity="x" if n < 31000 + bad else "1") for n in range(31000, 31010))
    land(source.name, name, body)

    (batch,) = ingest_files(spark, source, Options(bad_share_threshold=threshold, bad_min_records=minimum))

    expected = ("quarantined", 0, 10) if whole else ("committed", 10 - bad, bad)
    assert (batch.status, batch.rows_good, batch.rows_bad) == expected
    assert rows(spark, f"select count(*) from {source.table} where _source_file = '{name}'") == [(expected[1],)]


def test_json_schema_drift(spark):
    source = own_source("social_posts", "drift")
    good = {
        "post_id": "P1",
        "user_id": "u1",
        "platform": "tiktok",
        "likes": 3,
        "posted_at": "2026-11-02T08:00:00+01:00",
    }
    lines = [
        {**good, "mood": "happy", "author": {"handle": "@u1", "followers": 10}, "hashtags": ["promo"]},  # extra field
        {k: v for k, v in good.items() if k != "platform"} | {"post_id": "P2"},  # missing required
        {**good, "post_id": "P3", "likes": "lots"},  # changed type
        {**good, "post_id": "P4", "likes": 4.0},  # a float where an integer belongs
    ]
    land(source.name, "drift.jsonl", "\n".join(json.dumps(line) for line in lines) + "\nnot json\n")

    (batch,) = ingest_files(spark, source, Options(bad_share_threshold=0.9))

    # Social posts evolve (`declared_schema_policy`): the new field becomes a column, and a count
    # of the wrong type is kept aside in `_rescued` (tests/ingestion/test_schema_evolution.py has
    # the other policies).
    bronze = rows(
        spark,
        "select post_id, likes, _rescued['likes'], cast(posted_at as string), get_json_object(author, '$.handle'), "
        f"hashtags, mood from {source.table} where _source_file = 'drift.jsonl' order by post_id",
    )
    assert bronze == [
        ("P1", 3, None, "2026-11-02 07:00:00", "@u1", '["promo"]', "happy"),
        ("P3", None, "lots", "2026-11-02 07:00:00", None, None, None),
        ("P4", None, "4.0", "2026-11-02 07:00:00", None, None, None),
    ]
    assert rows(
        spark, f"select source_line, reason from bronze.quarantine where batch_id = '{batch.batch_id}' order by 1"
    ) == [
        (2, "missing required field platform"),
        (5, "invalid JSON (not a JSON object)"),
    ]


def test_excel_reference_data_and_the_ledger_over_sql(spark, thrift):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["method_id", "parameter", "unit", "analytical_method", "detection_limit"])
    workbook.active.append(["M01", "nitrate", "mg/L", "ion chromatography", 0.5])
    workbook.active.append(["M02", "phosphate", "mg/L", "spectrophotometry", "n/a"])
    source = own_source("water_methods", "excel")
    folder = land(source.name, "methods.xlsx", b"").parent
    workbook.save(folder / "methods.xlsx")
    import os
    import time

    os.utime(folder / "methods.xlsx", (time.time() - 60, time.time() - 60))

    (batch,) = ingest_files(spark, source, Options(bad_share_threshold=0.9))

    assert rows(spark, f"select method_id, detection_limit, _source_line from {source.table}") == [("M01", 0.5, 2)]
    ledger = thrift(
        "select batch_id, source, status, rows_good, rows_bad, file_name, length(file_sha256), delta_version, "
        f"started_at <= finished_at from bronze.ingestion_batches where batch_id = '{batch.batch_id}'"
    )
    assert ledger == [(batch.batch_id, source.name, "committed", 1, 1, "methods.xlsx", 64, 1, True)]
