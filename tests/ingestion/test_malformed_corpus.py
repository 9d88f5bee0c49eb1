"""A corpus of malformed inputs, every format and Kafka: nothing crashes, nothing good is lost,
every bad record is quarantined with its reason, and a damaged file lands nothing.

Each case names what must land in bronze (`good`), the quarantine reasons in record order
(`bad`), or, for a file that cannot be read at all, the defect the ledger reports (`unreadable`).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass

import pytest

from ingestion.api import Options, ingest
from ingestion.sources import get_source
from ingestion.storage import local_file
from tests.conftest import land, rows, xlsx_bytes

HEADER = "transaction_id,customer_id,product_id,quantity,unit_price,currency,transaction_timestamp,country,payment_method,status"
LOG = '203.0.113.{n} - - [10/Oct/2026:13:55:{n:02d} +0000] "GET /p/{n} HTTP/1.1" 200 {n}0 "-" "Mozilla/5.0"'
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + bytes(range(256)) * 8


def _tx(n: int, sep: str = ",", **changes: str) -> str:
    fields = dict(
        transaction_id=f"T{n}", customer_id="C00001", product_id="101", quantity="1", unit_price="2.50",
        currency="EUR", transaction_timestamp="2026-11-01T10:00:00Z", country="France", payment_method="card",
        status="completed",
    )  # fmt: skip
    return sep.join({**fields, **changes}.values())


def _post(n: int, **changes) -> str:
    post = {"post_id": f"CP{n}", "user_id": "u1", "platform": "twitter", "posted_at": "2026-11-01T10:00:00Z"}
    return json.dumps({**post, **changes}, ensure_ascii=False)


def _gzip(text: str) -> bytes:
    return gzip.compress(text.encode())


_LOGS = "\n".join(LOG.format(n=n) for n in range(1, 41)) + "\n"


@dataclass(frozen=True)
class FileCase:
    source: str
    name: str
    content: bytes | str
    good: int
    bad: tuple[str, ...] = ()
    unreadable: str | None = None


FILES = [
    # CSV exports
    FileCase("transactions", "crlf.csv", "\r\n".join([HEADER, _tx(1), _tx(2), _tx(3)]) + "\r\n", 3),
    FileCase(
        "transactions",
        "bom_semicolons_decimal_commas.csv",
        b"\xef\xbb\xbf" + "\n".join([HEADER.replace(",", ";"), _tx(4, ";", unit_price="2,50"), _tx(5, ";")]).encode(),
        2,
    ),
    FileCase("transactions", "quoted_newline.csv", "\n".join([HEADER, _tx(6, country='"Belgique\nWallonie"'), _tx(7)]), 2),
    FileCase(
        "transactions",
        "ragged.csv",
        "\n".join([HEADER, _tx(8), "T9,C00001,101,1", _tx(10) + ",extra"]),
        1,
        ("expected 10 columns, found 4", "expected 10 columns, found 11"),
    ),
    FileCase(
        "transactions",
        "wrong_types.csv",
        "\n".join([HEADER, _tx(11, quantity="abc"), _tx(12, unit_price="1.2.3"), _tx(13, transaction_timestamp="yesterday"), _tx(14)]),
        1,
        ('quantity "abc" is not an integer', 'unit_price "1.2.3" is not a decimal number', 'transaction_at "yesterday" is not a timestamp'),
    ),
    FileCase("transactions", "missing_required.csv", "\n".join([HEADER, _tx(15, customer_id=""), _tx(16)]), 1, ("missing required field customer_id",)),
    FileCase("transactions", "nul_in_field.csv", "\n".join([HEADER, _tx(17, customer_id="C0\x0001"), _tx(18)]), 1, ("control character U+0000 in field customer_id",)),
    FileCase("transactions", "windows_1252.csv", (HEADER + "\n" + _tx(19, country="Société") + "\n").encode("cp1252"), 0, ("undecodable bytes (the file is not UTF-8)",)),
    FileCase("transactions", "huge_field.csv", "\n".join([HEADER, _tx(20, country="X" * 200_000), _tx(21)]), 1, ("not a readable CSV record (field larger than field limit (131072))",)),
    FileCase("transactions", "unknown_column.csv", "\n".join([HEADER + ",note", _tx(22) + ",hello"]), 1),
    FileCase("transactions", "header_only.csv", HEADER + "\n", 0),
    FileCase("transactions", "one_column.csv", "transaction_id\nT24\nT25\n", 0, ("missing required field customer_id",) * 2),
    FileCase("transactions", "blank_header.csv", "\n" + _tx(26) + "\n", 0, ("expected 0 columns, found 10",)),
    FileCase("transactions", "doubled_quotes.csv", "\n".join([HEADER, _tx(27, country='"C\u00f4te ""d\'Ivoire"", ou pas"')]), 1),
    FileCase("transactions", "zero_bytes.csv", b"", 0, unreadable="empty file (zero bytes)"),
    FileCase("transactions", "binary.csv", PNG, 0, unreadable="binary content, not text"),
    FileCase("transactions", "utf16.csv", ("\n".join([HEADER, _tx(23)])).encode("utf-16"), 0, unreadable="UTF-16 text"),
    FileCase("transactions", "resent_copy_of_crlf.csv", "\r\n".join([HEADER, _tx(1), _tx(2), _tx(3)]) + "\n", 3),
    # Web server logs
    FileCase("server_logs", "identical_lines.log", (LOG.format(n=1) + "\n") * 3 + LOG.format(n=2) + "\n", 4),
    FileCase("server_logs", "small_with_bad_lines.log", "\n".join([LOG.format(n=n) for n in range(1, 6)] + ["-- log rotated --", "GET /x"]), 5, ("not a combined log format line",) * 2),
    FileCase("server_logs", "crlf.log", LOG.format(n=3) + "\r\n" + LOG.format(n=4) + "\r\n", 2),
    FileCase("server_logs", "latin1.log", (LOG.format(n=5).replace("Mozilla/5.0", "Navigateur é") + "\n").encode("latin-1"), 0, ("undecodable bytes (the line is not UTF-8)",)),
    FileCase("server_logs", "control_char.log", LOG.format(n=6) + "\n" + LOG.format(n=7).replace("/p/7", "/p/\x017") + "\n", 1, ("control character U+0001 in the line",)),
    FileCase("server_logs", "escaped_quote.log", LOG.format(n=8).replace("Mozilla/5.0", 'Bot \\"quoted\\" 1.0') + "\n", 1),
    FileCase("server_logs", "access.log.gz", _gzip(_LOGS), 40),
    FileCase("server_logs", "truncated.log.gz", _gzip(_LOGS)[:300], 0, unreadable="gzip stream ends after 300 bytes without its end marker"),
    FileCase("server_logs", "not_gzip.log.gz", _LOGS, 0, unreadable="not a gzip file"),
    # JSON
    FileCase("social_posts", "truncated_line.jsonl", "\n".join([_post(1), _post(2)[:25], _post(3)]), 2, ("invalid JSON (not a JSON object)",)),
    FileCase("social_posts", "array.json", "[" + ",\n".join([_post(4), _post(5)]) + "]", 2),
    FileCase("social_posts", "truncated_array.json", "[" + _post(6) + ", " + _post(7)[:20], 1, ("invalid JSON in the array: ",)),
    FileCase("social_posts", "array_then_more.json", "[" + _post(14) + "]\n" + _post(15), 1, ("content after the end of the JSON array",)),
    FileCase("social_posts", "nested_and_unknown.jsonl", _post(8, author={"name": "Zoé", "followers": 3}, mood="happy", hashtags=["a"]), 1),
    FileCase("social_posts", "wrong_type.jsonl", "\n".join([_post(9, likes="many"), _post(10, likes=3)]), 2),  # "many" rescued
    FileCase("social_posts", "not_an_object.jsonl", "\n".join(["42", "[1, 2, 3]", _post(11)]), 1, ("invalid JSON (not a JSON object)",) * 2),
    FileCase("social_posts", "bom_crlf.jsonl", b"\xef\xbb\xbf" + (_post(12) + "\r\n" + _post(13) + "\r\n").encode(), 2),
    # Excel
    FileCase("water_sites", "truncated.xlsx", xlsx_bytes([{"site_id": "S1", "site_name": "A", "latitude": 1, "longitude": 2}])[:200], 0, unreadable="not a readable Excel workbook"),
    FileCase(
        "water_sites",
        "missing_and_wrong.xlsx",
        xlsx_bytes([
            {"site_id": "S901", "site_name": "A", "latitude": 45.1, "longitude": 4.2},
            {"site_id": "S902", "site_name": None, "latitude": 45.2, "longitude": 4.3},
            {"site_id": "S903", "site_name": "C", "latitude": "north", "longitude": 4.4},
        ]),
        1,
        ("missing required field site_name", 'latitude "north" is not a number'),
    ),
]  # fmt: skip


@dataclass(frozen=True)
class MessageCase:
    label: str
    value: bytes | None
    good: int
    bad: str | None = None


def _sale(sale_id: int, **changes) -> bytes:
    sale = {"vente_id": sale_id, "client_id": 7, "produit_id": 101, "timestamp": "2026-11-01T12:00:00",
            "quantite": 1, "montant": 10.0}  # fmt: skip
    return json.dumps({**sale, **changes}, ensure_ascii=False).encode()


MESSAGES = [
    MessageCase("null value", None, 0, "empty message (null value)"),
    MessageCase("zero bytes", b"", 0, "empty message (zero bytes)"),
    MessageCase(
        "not UTF-8", b'{"vente_id": 1, "client_nom": "\xe9"}', 0, "undecodable bytes (the message is not UTF-8)"
    ),
    MessageCase("truncated JSON", _sale(900001)[:30], 0, "invalid JSON (not a JSON object)"),
    MessageCase("a JSON array", b"[1, 2, 3]", 0, "invalid JSON (not a JSON object)"),
    MessageCase("wrong type", _sale(900002, montant="abc"), 0, 'montant "abc" is not a decimal number'),
    MessageCase("missing field", _sale(900003, client_id=None), 0, "missing required field client_id"),
    MessageCase("nested and unknown fields", _sale(900004, panier={"articles": [1, 2]}, canal="web"), 1),
    MessageCase("offset in the time", _sale(900005, timestamp="2026-11-01T12:00:00+01:00"), 1),
    MessageCase("huge value", _sale(900006, client_nom="N" * 500_000), 1),
    MessageCase("delivered twice (1)", _sale(900007), 1),
    MessageCase("delivered twice (2)", _sale(900007), 1),
]


def test_files_of_the_corpus_land_or_are_quarantined_with_their_reason(spark):
    for case in FILES:
        land(case.source, f"corpus_{case.name}", case.content)
    batches = []
    for source in sorted({case.source for case in FILES}):
        batches += ingest(spark, get_source(source))  # nothing raises, whatever the files hold

    for case in FILES:
        name = f"corpus_{case.name}"
        landed = rows(spark, f"select count(*) from bronze.{case.source} where _source_file = '{name}'")[0][0]
        reasons = [
            reason
            for (reason,) in rows(
                spark,
                f"select reason from bronze.quarantine where source = '{case.source}' and source_file = '{name}' "
                "order by source_line",
            )
        ]
        notes = [b.note for b in batches if b.plan.file == name and b.status == "unreadable"]
        assert landed == case.good, case.name
        assert len(reasons) == len(case.bad) and all(
            r.startswith(e) for r, e in zip(reasons, case.bad, strict=False)
        ), (
            case.name,
            reasons,
        )
        if case.unreadable:
            assert len(notes) == 1 and notes[0].startswith(f"{name}: {case.unreadable}"), (case.name, notes)
        else:
            assert notes == [], case.name

    assert rows(spark, "select country from bronze.transactions where _source_file = 'corpus_doubled_quotes.csv'") == [
        ('C\u00f4te "d\'Ivoire", ou pas',)
    ]

    # A damaged file is not read again until it changes; a repaired one lands.
    again = [b for source in ("transactions", "server_logs") for b in ingest(spark, get_source(source))]
    assert [b for b in again if b.plan.file.startswith("corpus_")] == []
    land("server_logs", "corpus_truncated.log.gz", _gzip(_LOGS))
    (repaired,) = ingest(spark, get_source("server_logs"))
    assert (repaired.plan.file, repaired.status, repaired.rows_good) == ("corpus_truncated.log.gz", "committed", 40)


def send_messages(bootstrap: str, **client: str) -> None:
    """The corpus messages to the `sales` topic (keyed: Kafka refuses a null value without a key);
    `client`: more of kafka-python's settings (credentials)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, **client)
    try:
        for case in MESSAGES:
            producer.send("sales", key=b"corpus", value=case.value)
    finally:
        producer.flush()
        producer.close()


def test_messages_of_the_corpus_land_or_are_quarantined_with_their_reason(kafka, spark):
    from lakehouse.settings import settings

    source = get_source("sales")
    ingest(spark, source)  # what other tests sent before
    send_messages(settings().kafka_bootstrap)
    batches = ingest(spark, source, Options(bad_share_threshold=1.0))
    ids = ", ".join(f"'{b.batch_id}'" for b in batches)

    landed = Counter(r for (r,) in rows(spark, f"select _raw from bronze.sales where _batch_id in ({ids})"))
    quarantined = Counter(
        rows(spark, f"select raw, reason from bronze.quarantine where source = 'sales' and batch_id in ({ids})")
    )

    def text(value: bytes | None) -> str | None:
        return None if value is None else value.decode("utf-8", "replace")

    assert landed == Counter(text(case.value) for case in MESSAGES for _ in range(case.good))
    assert quarantined == Counter((text(case.value), case.bad) for case in MESSAGES if case.bad)


@pytest.mark.parametrize("encoding, expected", [("cp1252", "Société"), ("utf-8", None)])
def test_a_source_reads_the_encoding_it_is_set_to(tmp_path, monkeypatch, encoding, expected):
    from ingestion.readers import read_records

    monkeypatch.setenv("LAKEHOUSE_TRANSACTIONS_ENCODING", encoding)
    path = tmp_path / "export.csv"
    path.write_bytes((HEADER + "\n" + _tx(1, country="Société") + "\n").encode("cp1252"))
    (record,) = read_records(get_source("transactions"), local_file(path))
    assert (record.fields or {}).get("country") == expected
    if expected is None:
        assert record.error == "undecodable bytes (the file is not UTF-8)"
