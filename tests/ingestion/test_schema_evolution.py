"""Sources that change shape, on the real server: each schema policy (`evolve`, `rescue`, `strict`)
with a CSV export, JSON lines, Kafka messages and a workbook that gain, lose, rename or retype a
field. For each: what bronze holds, what the batch's shape in the ledger says, and that the
records already stored did not change."""

from __future__ import annotations

import json
from dataclasses import replace

from ingestion.api import ingest
from ingestion.batch import Options
from ingestion.ledger import read_batches
from ingestion.shapes import Shape, history
from lakehouse.cli import print_schema_history
from lakehouse.samples.producer import produce
from tests.conftest import land, own_source, rows, xlsx_bytes

OPTIONS = Options(settle_seconds=0)
HEADER = ["transaction_id", "customer_id", "product_id", "quantity", "unit_price", "currency", "transaction_timestamp"]


def _csv(header: list[str], records: list[dict[str, str]]) -> str:
    return ",".join(header) + "\n" + "".join(",".join(r[c] for c in header) + "\n" for r in records)


def _order(n: int, **extra: str) -> dict[str, str]:
    return {
        "transaction_id": f"T{n}",
        "customer_id": f"C{n}",
        "product_id": str(100 + n),
        "quantity": "2",
        "unit_price": "9.50",
        "currency": "EUR",
        "transaction_timestamp": f"2026-11-01T10:0{n % 10}:00Z",
        "country": "France",
        **extra,
    }


def _ingest_one(spark, source, name: str, content: str | bytes):
    land(source.name, name, content)
    (batch,) = ingest(spark, source, OPTIONS)
    return batch


def _rows(spark, sql: str, **args: str) -> list[tuple]:
    return [tuple(row) for row in spark.sql(sql, args=args).collect()]


def _stored(spark, source) -> list[tuple]:
    return rows(
        spark, f"select transaction_id, quantity, unit_price, country, _batch_id from {source.table} order by 1"
    )


def test_a_csv_export_that_evolves(spark, capsys):
    source = own_source("transactions", "evolves")
    assert source.schema_policy == "evolve"
    first = _ingest_one(spark, source, "day1.csv", _csv([*HEADER, "country"], [_order(1), _order(2)]))
    assert (first.status, first.rows_good) == ("committed", 2)
    before = _stored(spark, source)

    # A new column, and the columns in another order: the values land in their fields by name.
    header = ["country", "loyalty_tier", *reversed(HEADER)]
    second = _ingest_one(spark, source, "day2.csv", _csv(header, [_order(3, loyalty_tier="gold", country="Spain")]))
    assert (second.status, second.rows_good) == ("committed", 1)
    assert rows(
        spark,
        f"select transaction_id, quantity, country, loyalty_tier, _rescued['loyalty_tier'] from {source.table} "
        "order by 1",
    ) == [("T1", 2, "France", None, None), ("T2", 2, "France", None, None), ("T3", 2, "Spain", "gold", "gold")]
    assert Shape.from_json(second.shape).new_fields(source) == ["loyalty_tier"]

    # A renamed header: an alias the source declares lands; another name leaves the field missing.
    aliased = ["txn_id", *HEADER[1:]]
    third = _ingest_one(spark, source, "day3.csv", _csv(aliased, [{**_order(4), "txn_id": "T4"}]))
    assert (third.status, third.rows_good) == ("committed", 1)
    renamed = ["order_ref", *HEADER[1:]]
    fourth = _ingest_one(
        spark, source, "day4.csv", _csv(renamed, [{**_order(n), "order_ref": f"T{n}"} for n in (5, 6)])
    )
    assert (fourth.status, fourth.rows_good, fourth.rows_bad) == ("committed", 0, 2)  # too few to judge the batch
    assert _rows(
        spark,
        f"select distinct reason from bronze.quarantine where source = '{source.name}' and batch_id = :batch",
        batch=fourth.batch_id,
    ) == [("missing required field transaction_id",)]
    assert _rows(
        spark,
        f"select _rescued['order_ref'] from {source.all_records} where _batch_id = :batch order by 1",
        batch=fourth.batch_id,
    ) == [("T5",), ("T6",)]  # bronze keeps what arrived

    # An optional column gone lands; a required one gone does not.
    fifth = _ingest_one(spark, source, "day5.csv", _csv(HEADER, [_order(7)]))
    assert (fifth.status, fifth.rows_good) == ("committed", 1)
    assert Shape.from_json(fifth.shape).missing_fields(source) == ["country", "payment_method", "status"]
    without_quantity = [c for c in HEADER if c != "quantity"]
    sixth = _ingest_one(spark, source, "day6.csv", _csv(without_quantity, [_order(8)]))
    assert (sixth.rows_good, sixth.rows_bad) == (0, 1)

    assert [row for row in _stored(spark, source) if row[0] in ("T1", "T2")] == before  # stored rows unchanged
    assert rows(spark, f"select count(*), count(distinct transaction_id) from {source.table}") == [(5, 5)]
    changes = history(read_batches(spark, source))
    told = {batch.batch_id: lines for batch, lines in changes}
    assert list(told) == [first.batch_id, second.batch_id, third.batch_id, fourth.batch_id, sixth.batch_id]
    assert told[second.batch_id] == ["+ loyalty_tier (string)"]
    assert told[third.batch_id] == ["- country"]  # every batch before it carried one
    assert told[fourth.batch_id] == ["- transaction_id", "+ order_ref (string)"]
    assert told[sixth.batch_id] == ["- quantity"]

    print_schema_history(spark, source)  # `lakehouse schema`
    shown = capsys.readouterr().out
    assert f"{source.name}: schema policy evolve; 5 change(s) of shape in 6 batch(es)" in shown
    assert f"{second.batch_id}  " in shown and "    + loyalty_tier (string)" in shown
    assert shown.rstrip().endswith(
        "the last batch against the declaration: absent: quantity, country, payment_method, status"
    )

    # Columns of the header with no value in any record are columns of the batch all the same.
    empty = _ingest_one(
        spark, source, "day7.csv", _csv([*HEADER, "country", "loyalty_tier"], [_order(9, country="", loyalty_tier="")])
    )
    assert (empty.status, empty.rows_good) == ("committed", 1)
    assert rows(spark, f"select country, loyalty_tier from {source.table} where transaction_id = 'T9'") == [
        (None, None)
    ]
    shape = Shape.from_json(empty.shape)
    assert (shape.fields["country"], shape.fields["loyalty_tier"]) == (("string",), ("string",))
    assert shape.missing_fields(source) == ["payment_method", "status"]


def test_a_strict_csv_quarantines_a_batch_of_another_shape(spark):
    source = replace(own_source("transactions", "strict"), declared_schema_policy="strict")
    every = [*HEADER, "country", "payment_method", "status"]
    full = {"payment_method": "card", "status": "completed"}
    good = _ingest_one(spark, source, "a.csv", _csv(every, [_order(1, **full)]))
    assert good.status == "committed"
    extra = _ingest_one(spark, source, "b.csv", _csv([*every, "coupon"], [_order(2, coupon="X1", **full)]))
    assert extra.status == "quarantined"
    assert "field(s) not in the declaration: coupon" in extra.note
    retyped = _ingest_one(spark, source, "c.csv", _csv(every, [_order(3, quantity="two", **full)]))
    assert (retyped.status, retyped.rows_bad) == ("committed", 1)  # a wrong type: a bad record, not rescued
    missing = _ingest_one(spark, source, "d.csv", _csv(HEADER, [_order(4)]))  # optional columns may go
    assert (missing.status, missing.rows_good) == ("committed", 1)
    assert rows(spark, f"select transaction_id from {source.table} order by 1") == [("T1",), ("T4",)]
    assert rows(spark, f"select reason from bronze.quarantine where source = '{source.name}' order by 1") == [
        (f"batch {extra.batch_id} quarantined whole: {extra.note}",),
        ('quantity "two" is not an integer',),
    ]

    # A required column gone from a whole export: loud, with the source, the batch and the field.
    without_quantity = [column for column in every if column != "quantity"]
    broken = _ingest_one(spark, source, "e.csv", _csv(without_quantity, [_order(n, **full) for n in range(10, 22)]))
    assert (broken.status, broken.rows_bad) == ("quarantined", 12)
    assert broken.note == (
        "required field(s) quantity in none of its 12 records: the source no longer sends what its "
        "declaration requires; the whole batch is in quarantine"
    )


def _post(n: int, **fields: object) -> dict:
    post = {
        "post_id": f"P{n}",
        "user_id": f"U{n}",
        "platform": "mastodon",
        "likes": n,
        "shares": 1,
        "comments": 0,
        "posted_at": "2026-11-01T10:00:00Z",
    }
    return {k: v for k, v in {**post, **fields}.items() if v is not None}


def test_json_lines_that_gain_and_retype_fields(spark):
    source = own_source("social_posts", "evolves")
    lines = lambda posts: "".join(json.dumps(p) + "\n" for p in posts)  # noqa: E731
    first = _ingest_one(spark, source, "a.jsonl", lines([_post(1), _post(2)]))
    assert (first.status, first.rows_good) == ("committed", 2)
    posts = [
        _post(3, lang="fr", geo={"lat": 48.85, "lon": 2.35}),  # a new field, and a new nested object
        _post(4, likes="many", comments=None),  # number -> string; a field removed
        _post(5, shares={"count": 3}, likes="12", comments=None),  # number -> object; a number in a string
    ]
    second = _ingest_one(spark, source, "b.jsonl", lines(posts))
    assert (second.status, second.rows_good, second.rows_bad) == ("committed", 3, 0)
    assert rows(
        spark,
        f"select post_id, likes, shares, comments, lang, geo, map_keys(_rescued) from {source.table} order by 1",
    ) == [
        ("P1", 1, 1, 0, None, None, None),
        ("P2", 2, 1, 0, None, None, None),
        ("P3", 3, 1, 0, "fr", '{"lat":48.85,"lon":2.35}', ["lang", "geo"]),
        ("P4", None, 1, None, None, None, ["likes"]),
        ("P5", 12, None, None, None, None, ["shares"]),
    ]
    assert rows(
        spark,
        f"select _rescued['likes'], _rescued['shares'] from {source.table} where post_id in ('P4', 'P5') order by post_id",
    ) == [
        ("many", None),
        (None, '{"count":3}'),
    ]
    shape = Shape.from_json(second.shape)
    assert shape.new_fields(source) == ["geo", "lang"]
    assert shape.fields["geo"] == ("object",)
    assert shape.retyped_fields(source) == {"likes": ("long", "string"), "shares": ("long", "object")}
    assert "comments" in shape.fields  # P3 still sent it


def test_kafka_messages_that_gain_and_retype_fields_are_rescued(kafka, spark):
    source = own_source("device_events", "rescue")
    assert source.schema_policy == "rescue"
    event = {
        "device_id": "D1",
        "device_type": "thermostat",
        "event_type": "temperature",
        "event_at": "2026-11-01T10:00:00Z",
    }
    messages = [
        {**event, "value": 21.5},
        {**event, "value": "high", "firmware": {"version": "1.2"}, "event_at": "2026-11-01T10:01:00Z"},
        {**event, "value": {"celsius": 22}, "event_at": "2026-11-01T10:02:00Z"},
    ]
    produce(source.topic, (json.dumps(m).encode() for m in messages), progress=False)
    (batch,) = ingest(spark, source, OPTIONS)
    assert (batch.status, batch.rows_good, batch.rows_bad) == ("committed", 3, 0)
    assert rows(spark, f"select value, _rescued from {source.table} order by event_at") == [
        (21.5, None),
        (None, {"value": "high", "firmware": '{"version":"1.2"}'}),
        (None, {"value": '{"celsius":22}'}),
    ]
    assert "firmware" not in spark.table(source.table).columns  # rescue adds no column
    assert Shape.from_json(batch.shape).fields["value"] == ("double", "object", "string")


def test_a_reference_workbook_with_an_extra_column(spark):
    source = own_source("water_sites", "strict")
    assert source.schema_policy == "strict"
    site = {
        "site_id": "S1",
        "site_name": "Lac",
        "region": "Alpes",
        "latitude": 45.9,
        "longitude": 6.1,
        "water_body_type": "lake",
    }
    first = _ingest_one(spark, source, "sites.xlsx", xlsx_bytes([site]))
    assert first.status == "committed"
    widened = _ingest_one(spark, source, "sites_v2.xlsx", xlsx_bytes([{**site, "site_id": "S2", "operator": "SIE"}]))
    assert widened.status == "quarantined"
    assert "field(s) not in the declaration: operator" in widened.note
    assert rows(spark, f"select site_id from {source.table}") == [("S1",)]

    evolving = replace(source, declared_schema_policy="evolve")
    land(source.name, "sites_v3.xlsx", xlsx_bytes([{**site, "site_id": "S3", "operator": "SIE"}]))
    (third,) = ingest(spark, evolving, OPTIONS)
    assert third.status == "committed"
    assert rows(spark, f"select site_id, operator from {source.table} order by 1") == [("S1", None), ("S3", "SIE")]
