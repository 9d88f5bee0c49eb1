"""Splitting landing files into records (no services needed): formats, encodings, defects."""

from __future__ import annotations

import gzip
import json

import pytest
from openpyxl import Workbook

from ingestion.batch import staged_file_records
from ingestion.readers import read_records
from ingestion.sources import get_source
from ingestion.storage import local_file

pytestmark = pytest.mark.fast

HEADER = "transaction_id,customer_id,product_id,quantity,unit_price,currency,transaction_timestamp,country,payment_method,status"


def test_csv_with_bom_semicolons_quotes_and_bad_rows(tmp_path):
    path = tmp_path / "tx.csv"
    body = (
        HEADER.replace(",", ";")
        + '\nT1;C1;101;2;899.99;EUR;2026-11-01T10:00:00Z;"Belgique; Wallonie";card;completed'
        + '\nT2;C2;102;1;"599,00";EUR;2026-11-01T11:00:00Z;"multi\nline";card;completed'
        + "\nT3;C3;103;1"
    )
    path.write_bytes(b"\xef\xbb\xbf" + body.encode() + b"\nT4;C\xe9;104;1;1;EUR;2026-11-01;FR;card;ok\n")

    records = list(read_records(get_source("transactions"), local_file(path)))

    assert [r.position for r in records] == [2, 3, 5, 6]
    first = records[0].fields
    assert first["transaction_id"] == "T1"  # BOM stripped from the first header
    assert first["transaction_at"] == "2026-11-01T10:00:00Z"  # header alias mapped
    assert first["country"] == "Belgique; Wallonie"
    assert records[1].fields["country"] == "multi\nline"
    assert '"multi\nline"' in records[1].raw  # the raw record is the original text
    assert records[2].error == "expected 10 columns, found 4"
    assert records[3].error == "undecodable bytes (the file is not UTF-8)"
    assert records[3].fields is None


def test_records_reach_spark_with_their_fields_and_errors_in_order(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text(
        HEADER + "\nT1,C1,101,2,9.5,EUR,2026-11-01T10:00:00Z,,card,ok\nT2,C2\nT3,C3,103,1,1,EUR,2026-11-02,FR,,ok\n"
    )
    records = list(read_records(get_source("transactions"), local_file(path)))

    staged = staged_file_records(records, "tx.csv").to_pydict()

    assert staged["_source_line"] == [2, 3, 4]
    assert staged["_error"] == [None, "expected 10 columns, found 2", None]
    assert staged["_fields"][1] is None
    assert dict(staged["_fields"][0])["transaction_id"] == "T1" and dict(staged["_fields"][0])["country"] == ""
    assert dict(staged["_fields"][2]) == dict(records[2].fields)
    assert staged["_source_file"] == ["tx.csv"] * 3
    assert staged_file_records([], "header_only.csv").num_rows == 0


def test_combined_logs_gzip(tmp_path):
    path = tmp_path / "access.log.gz"
    lines = [
        '203.0.113.9 - alice [10/Oct/2026:13:55:36 -0700] "GET /products/101 HTTP/1.1" 200 2326 '
        '"https://www.example.com/" "Mozilla/5.0"',
        '198.51.100.7 - - [10/Oct/2026:13:55:37 +0000] "POST /cart HTTP/2.0" 304 - "-" "curl/8.5.0"',
        "-- log rotated --",
    ]
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")

    records = list(read_records(get_source("server_logs"), local_file(path)))

    assert records[0].fields == {
        "client_ip": "203.0.113.9",
        "remote_user": "alice",
        "requested_at": "10/Oct/2026:13:55:36 -0700",
        "request": "GET /products/101 HTTP/1.1",
        "status": "200",
        "bytes_sent": "2326",
        "referrer": "https://www.example.com/",
        "user_agent": "Mozilla/5.0",
    }
    assert records[1].fields["bytes_sent"] is None and records[1].fields["referrer"] is None
    assert (records[2].position, records[2].error) == (3, "not a combined log format line")


def test_json_array_is_streamed_element_by_element(tmp_path):
    posts = [{"post_id": f"P{i}", "author": {"handle": f"@u{i}"}, "hashtags": ["a", "b"]} for i in range(3000)]
    path = tmp_path / "posts.json"
    path.write_text(json.dumps(posts, indent=1))

    records = list(read_records(get_source("social_posts"), local_file(path)))

    assert len(records) == 3000
    assert [json.loads(r.raw) for r in records] == posts
    assert records[1].position > records[0].position


def test_json_lines_keep_invalid_lines_for_spark_to_reject(tmp_path):
    path = tmp_path / "posts.jsonl"
    path.write_bytes(b'{"post_id": "P1"}\n\n{"post_id": \n{"post_id": "P\xff"}\n')

    records = list(read_records(get_source("social_posts"), local_file(path)))

    assert [(r.position, r.raw, r.error) for r in records[:2]] == [
        (1, '{"post_id": "P1"}', None),
        (3, '{"post_id":', None),
    ]
    assert records[2].error == "undecodable bytes (the line is not UTF-8)"


def test_xlsx_rows_with_header_aliases(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Site ID", "Name", "Region", "Latitude", "Longitude", "Water body type"])
    sheet.append(["S001", "Station 001", "Bretagne", 48.1, -1.68, "river"])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["S002", "Station 002", "Occitanie", 43, 1.44, "lake"])
    path = tmp_path / "sites.xlsx"
    workbook.save(path)

    records = list(read_records(get_source("water_sites"), local_file(path)))

    assert [r.position for r in records] == [2, 4]
    assert records[0].fields == {
        "site_id": "S001",
        "site_name": "Station 001",
        "region": "Bretagne",
        "latitude": "48.1",
        "longitude": "-1.68",
        "water_body_type": "river",
    }
    assert records[1].fields["latitude"] == "43"


def test_control_characters_are_not_text(tmp_path):
    csv_path = tmp_path / "nul.csv"
    csv_path.write_bytes(
        (HEADER + "\nT1,C1,101,1,1.00,EUR,2026-11-01T10:00:00Z,FR,card,completed").encode()
        + b"\nT2,C1\x00,101,1,1.00,EUR,2026-11-01T10:00:00Z,FR,card,completed"
        + b'\nT3,C1,101,1,1.00,EUR,2026-11-01T10:00:00Z,"FR\tBE",card,completed\n'
    )
    log_path = tmp_path / "access.log"
    log_path.write_bytes(
        b'203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8"\n'
        b'203.0.113.9 - - [10/Oct/2026:13:55:37 +0000] "GET /\x07 HTTP/1.1" 200 12 "-" "curl/8"\n'
    )

    csv_records = list(read_records(get_source("transactions"), local_file(csv_path)))
    log_records = list(read_records(get_source("server_logs"), local_file(log_path)))

    assert [r.error for r in csv_records] == [None, "control character U+0000 in field customer_id", None]
    assert csv_records[2].fields["country"] == "FR\tBE"  # a tab inside a field is text
    assert [r.error for r in log_records] == [None, "control character U+0007 in the line"]
