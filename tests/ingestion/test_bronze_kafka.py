"""Kafka topics land in bronze exactly once, even when the ingestion is killed with -9."""

from __future__ import annotations

import dataclasses
import json
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest

from ingestion import kafka_client
from ingestion.batch import BatchWriter, Options, Writers
from ingestion.errors import LakehouseError
from ingestion.ledger import read_batches
from ingestion.plans import KafkaPlan, OffsetRange
from ingestion.recovery import rollback
from ingestion.sources import get_source
from ingestion.tables import ensure_tables
from ingestion.topics import ingest_topic, write_kafka_batch
from lakehouse.samples.producer import produce
from lakehouse.samples.records import device_events, encode
from lakehouse.settings import settings
from tests.conftest import PROJECT_ROOT, lakehouse_cli, own_source, rows

SALES_MESSAGE = {
    "vente_id": 42,
    "client_id": 1,
    "produit_id": 101,
    "timestamp": "2024-12-16T14:30:00",
    "quantite": 2,
    "montant": 1799.98,
    "client_nom": "Jean Dupont",
    "produit_nom": "Ordinateur portable",
    "categorie": "Électronique",
    "pays": "France",
    "segment": "Particulier",
}


def _landed(spark, source: str) -> tuple[int, int, int]:
    """(bronze rows, quarantined rows, distinct (partition, offset) over both) of a Kafka source."""
    counts = rows(
        spark,
        f"""
        with landed as (
            select _kafka_partition as p, _kafka_offset as o from bronze.{source}
            union all
            select kafka_partition, kafka_offset from bronze.quarantine where source = '{source}'
        )
        select
            (select count(*) from bronze.{source}),
            (select count(*) from bronze.quarantine where source = '{source}'),
            (select count(*) from (select distinct p, o from landed))
        """,
    )
    return counts[0]


def test_the_sales_stream_is_accepted_in_the_producers_shape(kafka, spark):
    source = own_source("sales", "shape")
    bad = dict(SALES_MESSAGE, vente_id=43, quantite="deux")
    produce(source.kafka_topic, [encode(SALES_MESSAGE), encode(bad), b"\xff\xfe poison", b"{oops", b""], progress=False)

    (batch,) = ingest_topic(spark, source, Options(bad_share_threshold=0.9))

    assert (batch.rows_good, batch.rows_bad) == (1, 4)
    assert rows(
        spark,
        "select vente_id, client_id, produit_id, cast(timestamp as string), quantite, montant, client_nom, "
        f"categorie, pays, segment, _kafka_topic from {source.table}",
    ) == [
        (
            42,
            1,
            101,
            "2024-12-16 14:30:00",
            2,
            Decimal("1799.98"),
            "Jean Dupont",
            "Électronique",
            "France",
            "Particulier",
            source.kafka_topic,
        )
    ]
    assert sorted(
        reason for (reason,) in rows(spark, f"select reason from bronze.quarantine where source = '{source.name}'")
    ) == [
        "empty message (zero bytes)",
        "invalid JSON (not a JSON object)",
        'quantite "deux" is not an integer',
        "undecodable bytes (the message is not UTF-8)",
    ]
    assert ingest_topic(spark, source, Options()) == []  # nothing new, nothing twice


def test_stations_upload_in_batches_of_100_with_a_pause(kafka, spark, tmp_path):
    path = tmp_path / "measurements.jsonl"
    measurements = [
        {"site_id": f"S{n % 5:03d}", "method_id": "M01", "sample_date": "2026-10-01", "parameter": "nitrate",
         "value": n / 10, "unit": "mg/L", "flags": ""}
        for n in range(250)
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(m) for m in measurements))

    result = lakehouse_cli("produce-file", "water_quality", str(path), "--batch-size", "100", "--pause", "0.2")

    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if "sent a batch" in line] == [
        "water_quality: sent a batch of 100 rows",
        "water_quality: sent a batch of 100 rows",
        "water_quality: sent a batch of 50 rows",
    ]
    ingest_topic(spark, get_source("water_quality"), Options())
    assert rows(spark, "select count(*), round(sum(value), 1), count(distinct site_id) from bronze.water_quality") == [
        (250, 3112.5, 5)
    ]


def _ingest_process(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "ingest", "device_events"],
        cwd=PROJECT_ROOT,
        env={**__import__("os").environ, "LAKEHOUSE_INGEST_BATCH_MESSAGES": "10000", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_exactly_once_when_killed_repeatedly(kafka, spark):
    # A run of the CLI on the declared source: what other tests left in its topic is taken first,
    # so that what this test counts is what it sent.
    drained = _ingest_process({})
    assert drained.wait(timeout=600) == 0, drained.stdout.read()
    landed_before = _landed(spark, "device_events")
    offsets_before = _committed_offsets("device_events")
    total = 100_000
    sent = produce("device_events", (encode(m) for m in device_events(random.Random(7), total)), progress=False)
    assert sent == total

    # Deterministic kills at each step of a batch, then kill -9 at random moments.
    for stage in ("after_bronze_write", "after_ledger_commit"):
        process = _ingest_process({"LAKEHOUSE_CRASH_AT": stage})
        process.wait(timeout=300)
        assert process.returncode == -signal.SIGKILL, process.stdout.read()
    rng = random.Random(3)
    for _ in range(4):
        process = _ingest_process({})
        time.sleep(rng.uniform(4, 12))
        process.kill()
        process.wait()
    finished = _ingest_process({})
    output, _ = finished.communicate(timeout=600)
    assert finished.returncode == 0, output

    bronze, quarantined, distinct_offsets = (
        after - before for after, before in zip(_landed(spark, "device_events"), landed_before, strict=True)
    )
    assert bronze + quarantined == total
    assert distinct_offsets == total
    # Bronze holds each message once, whatever the kills left half done.
    held, distinct = rows(
        spark, "select count(*), count(distinct _kafka_partition, _kafka_offset) from bronze.device_events__all"
    )[0]
    assert held == distinct
    assert quarantined == sum(1 for m in device_events(random.Random(7), total) if isinstance(m, bytes))
    # One ledger event per batch, whatever the kills interrupted.
    assert rows(
        spark,
        "select count(*) - count(distinct batch_id) from bronze.ingestion_batch_events where source = 'device_events'",
    ) == [(0,)]
    # Offsets reach Kafka only after the lakehouse holds the data: the group is fully caught up.
    assert _committed_offsets("device_events") - offsets_before == total


def _committed_offsets(topic: str) -> int:
    from kafka import TopicPartition

    from ingestion import kafka_client

    consumer = kafka_client.consumer(group_id=f"lakehouse-bronze-{topic}")
    try:
        partitions = consumer.partitions_for_topic(topic) or ()  # None: no such topic yet
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in partitions)
    finally:
        consumer.close()


def test_unreachable_services_give_a_clear_error_and_write_nothing(kafka, spark):
    ensure_tables(spark, get_source("ad_events"))
    before = rows(spark, "select count(*) from bronze.ingestion_batch_events")

    no_spark = lakehouse_cli("ingest", "ad_events", env={"LAKEHOUSE_CONNECT_PORT": "1"})
    assert no_spark.returncode == 1
    assert "the Spark server is unreachable at sc://127.0.0.1:1" in no_spark.stderr
    assert "retrying in 4s" in no_spark.stdout  # it retried with backoff first
    assert "hint: start it with `lakehouse up`" in no_spark.stderr

    no_kafka = lakehouse_cli("ingest", "ad_events", env={"LAKEHOUSE_KAFKA_PORT": "1"})
    assert no_kafka.returncode == 1
    assert "the Kafka broker is unreachable at 127.0.0.1:1" in no_kafka.stderr
    assert "Traceback" not in no_kafka.stderr

    assert rows(spark, "select count(*) from bronze.ingestion_batch_events") == before


def test_a_batch_whose_offsets_retention_removed_fails_clearly(kafka, spark):
    from kafka import KafkaAdminClient, TopicPartition

    source = dataclasses.replace(get_source("device_events"), name="retention_lost", topic="retention_lost")
    produce(source.topic, (encode(m) for m in device_events(random.Random(5), 30)), progress=False)
    consumer = kafka_client.consumer()
    ends = consumer.end_offsets([TopicPartition(source.topic, p) for p in consumer.partitions_for_topic(source.topic)])
    consumer.close()
    ranges = tuple(OffsetRange(tp.partition, 0, end) for tp, end in sorted(ends.items()) if end)
    # A batch planned ...
    writer = BatchWriter(spark, source, Options())
    batch = writer.ledger.start(KafkaPlan(source.topic, ranges))
    # ... whose messages the topic's retention removes before Spark reads them.
    admin = KafkaAdminClient(bootstrap_servers=settings().kafka_bootstrap)
    admin.delete_records({TopicPartition(source.topic, r.partition): r.end for r in ranges})
    admin.close()

    with pytest.raises(LakehouseError, match="Kafka no longer holds all of its offsets") as raised:
        write_kafka_batch(writer, batch)

    assert "retention" in raised.value.hint
    assert rows(spark, "select count(*) from bronze.retention_lost__all") == [(0,)]
    assert read_batches(spark, source) == []
    # The next run plans from where the topic's retention starts now: nothing left to read.
    assert ingest_topic(spark, source, Options()) == []


def test_a_kept_writer_reads_the_ledger_again_only_after_another_process_wrote_to_it(kafka, spark):
    """As `lakehouse run --follow` keeps them from one round to the next."""
    source = dataclasses.replace(get_source("device_events"), name="kept_writer", topic="kept_writer")
    writers = Writers()

    def round_of(count: int, seed: int) -> list:
        produce(source.topic, (encode(m) for m in device_events(random.Random(seed), count)), progress=False)
        return ingest_topic(spark, source, Options(), writers=writers)

    first = round_of(20, 1)
    kept = writers.writer(spark, source, Options())
    second = round_of(30, 2)
    assert writers.writer(spark, source, Options()) is kept  # its own events only: nothing read again

    rollback(spark, source, second[0].batch_id)  # another writer's event
    fresh = writers.writer(spark, source, Options())
    assert fresh is not kept
    assert fresh.ledger.find(second[0].batch_id).status == "rolled_back"

    third = round_of(40, 3)
    assert [b.seq for b in first + second + third] == [1, 2, 3]
    assert rows(spark, "select count(*) from bronze.kept_writer") == [(first[0].rows_good + third[0].rows_good,)]
    assert first[0].rows_good + first[0].rows_bad + third[0].rows_good + third[0].rows_bad == 60
