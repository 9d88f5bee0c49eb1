"""Rolling a batch back hides its records from every reader; replaying it gives back what a clean run
holds; purging it deletes its records from bronze."""

from __future__ import annotations

import random

import pytest

from ingestion.api import Options, purge, replay, rollback
from ingestion.errors import LakehouseError
from ingestion.files import ingest_files
from ingestion.topics import ingest_topic
from lakehouse.samples.producer import produce
from lakehouse.samples.records import ad_events, encode, server_logs
from tests.conftest import land, own_source, rows


def _content(spark, table: str) -> list[tuple]:
    """Every bronze row without the columns that name the batch that wrote it."""
    frame = spark.table(table).drop("_batch_id", "_ingested_at")
    return sorted(tuple(row) for row in frame.collect())


def _quarantine(spark, source: str) -> list[tuple]:
    frame = spark.table("bronze.quarantine").where(f"source = '{source}'").drop("batch_id", "quarantined_at")
    return sorted((tuple(row) for row in frame.collect()), key=repr)


def test_rollback_and_replay_of_a_file_batch(spark):
    source = own_source("server_logs", "rollback")
    for hour in range(3):
        land(source.name, f"access-{hour}.log", "\n".join(server_logs(random.Random(11 + hour), 100)) + "\n")
    batches = ingest_files(spark, source, Options())
    assert [b.status for b in batches] == ["committed"] * 3
    clean, clean_quarantine = _content(spark, source.table), _quarantine(spark, source.name)
    middle = batches[1]

    rolled = rollback(spark, source, middle.batch_id)

    assert rolled.status == "rolled_back"
    assert rows(spark, f"select count(*) from {source.table} where _batch_id = '{middle.batch_id}'") == [(0,)]
    assert len(_content(spark, source.table)) == len(clean) - middle.rows_good
    assert rows(spark, f"select count(*) from bronze.quarantine where batch_id = '{middle.batch_id}'") == [(0,)]
    # A ledger event only: the records stay in bronze, for a replay or an audit.
    assert rows(spark, f"select count(*) from {source.all_records} where _batch_id = '{middle.batch_id}'") == [
        (middle.rows_good + middle.rows_bad,)
    ]
    assert rolled.delta_version == middle.delta_version
    assert rows(spark, f"select status from bronze.ingestion_batches where batch_id = '{middle.batch_id}'") == [
        ("rolled_back",)
    ]
    assert ingest_files(spark, source, Options()) == []  # a rollback is not undone by accident

    with pytest.raises(LakehouseError, match="is rolled_back; only committed or quarantined"):
        rollback(spark, source, middle.batch_id)
    with pytest.raises(LakehouseError, match="roll it back first"):
        replay(spark, source, batches[0].batch_id)
    with pytest.raises(LakehouseError, match="only rolled-back or quarantined batches can be purged"):
        purge(spark, source, batches[0].batch_id)

    purged = purge(spark, source, middle.batch_id)

    assert rows(spark, f"select count(*) from {source.all_records} where _batch_id = '{middle.batch_id}'") == [(0,)]
    assert (purged.status, purged.delta_version) == ("rolled_back", batches[-1].delta_version + 1)
    assert purged.note.startswith(f"purged: its records deleted from {source.all_records}")
    others = sum(b.rows_good + b.rows_bad for b in batches if b is not middle)
    ids = ", ".join(f"'{b.batch_id}'" for b in batches)
    assert rows(spark, f"select count(*) from {source.all_records} where _batch_id in ({ids})") == [(others,)]

    replayed = replay(spark, source, middle.batch_id)

    assert (replayed.status, replayed.rows_good, replayed.note) == (
        "committed",
        middle.rows_good,
        f"replay of {middle.batch_id}",
    )
    assert _content(spark, source.table) == clean
    assert _quarantine(spark, source.name) == clean_quarantine


def test_rollback_and_replay_of_a_kafka_batch(kafka, spark):
    source = own_source("ad_events", "rollback")
    sent = produce(source.kafka_topic, (encode(m) for m in ad_events(random.Random(5), 500)), progress=False)
    batches = ingest_topic(spark, source, Options(batch_messages=200))
    assert [b.rows_good + b.rows_bad for b in batches] == [200, 200, sent - 400]
    clean, clean_quarantine = _content(spark, source.table), _quarantine(spark, source.name)

    rollback(spark, source, batches[1].batch_id)
    assert len(_content(spark, source.table)) == len(clean) - batches[1].rows_good
    assert ingest_topic(spark, source, Options(batch_messages=200)) == []  # the consumer does not re-read it

    replayed = replay(spark, source, batches[1].batch_id)

    assert replayed.plan.ranges == batches[1].plan.ranges
    assert _content(spark, source.table) == clean
    assert _quarantine(spark, source.name) == clean_quarantine
