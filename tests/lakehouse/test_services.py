"""The services start, answer, stop and restart, and Kafka, Spark and dbt see the same data.

Tests in this module run in order: later ones stop and restart the services started earlier.
"""

from __future__ import annotations

import uuid

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from lakehouse.settings import settings
from tests.conftest import dbt_cli, lakehouse_cli

# The seed catalogue: products per category, as gold should count them.
PRODUCTS_BY_CATEGORY = "select category, count(*) from reference.products group by category"
EXPECTED_PRODUCTS_BY_CATEGORY = {
    "Électronique": 4,
    "Maison": 2,
    "Mobilier": 2,
    "Livres": 2,
    "Sport": 2,
}


def _produce(topic: str, count: int) -> list[tuple[bytes, bytes]]:
    producer = KafkaProducer(bootstrap_servers=settings().kafka_bootstrap, acks="all")
    sent = [(f"k{i}".encode(), f'{{"n": {i}}}'.encode()) for i in range(count)]
    for key, value in sent:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()
    return sent


def _consume_all(topic: str) -> list[tuple[bytes, bytes]]:
    consumer = KafkaConsumer(
        bootstrap_servers=settings().kafka_bootstrap,
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    received = [(message.key, message.value) for message in consumer]
    consumer.close()
    return received


def test_both_services_answer_on_loopback(kafka, spark_server):
    for service in (kafka, spark_server):
        status = service.status()
        assert status.running, status
        assert "not answering" not in status.detail
        assert all(port.host == "127.0.0.1" for port in service.ports())


def test_second_start_does_not_start_a_second_process(kafka, spark_server):
    pids = {service.name: service.status().pid for service in (kafka, spark_server)}
    result = lakehouse_cli("up")
    assert result.returncode == 0, result.stderr
    assert "kafka: already running" in result.stdout
    assert "spark: already running" in result.stdout
    assert {s.name: s.status().pid for s in (kafka, spark_server)} == pids


def test_kafka_gives_back_what_was_produced(kafka):
    topic = f"roundtrip-{uuid.uuid4().hex[:8]}"
    sent = _produce(topic, 500)
    assert sorted(_consume_all(topic)) == sorted(sent)


def test_delta_table_from_connect_is_read_over_thrift(spark_server, thrift):
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(settings().spark_connect_url).getOrCreate()
    spark.sql("create schema if not exists bronze")
    rows = [(i, f"device-{i % 7}", float(i) * 1.5) for i in range(1, 1001)]
    frame = spark.createDataFrame(rows, "event_id int, device_id string, value double")
    frame.write.mode("overwrite").saveAsTable("bronze.connect_probe")
    fmt = spark.sql("describe detail bronze.connect_probe").collect()[0]["format"]
    spark.stop()

    assert fmt == "delta"
    assert thrift("select count(*), sum(event_id), count(distinct device_id) from bronze.connect_probe") == [
        (1000, 500500, 7)
    ]
    assert thrift("select value from bronze.connect_probe where event_id = 10") == [(15.0,)]


def test_dbt_build_on_the_local_server(spark_server, thrift):
    # The reference data and the models on it: the layers over bronze have tests of their own (tests/models).
    result = dbt_cli(
        "build", "--target", "local", "--select", "products", "currencies", "countries+",
        "--exclude", "source:*+", "--indirect-selection", "cautious",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert thrift("select count(*) from staging.stg_reference__country_aliases where country_code = 'FR'") == [(2,)]
    rows = thrift(PRODUCTS_BY_CATEGORY)
    assert dict(rows) == EXPECTED_PRODUCTS_BY_CATEGORY


def test_data_survives_a_restart(kafka, spark_server, thrift):
    topic = f"restart-{uuid.uuid4().hex[:8]}"
    sent = _produce(topic, 50)
    table = f"bronze.restart_probe_{uuid.uuid4().hex[:8]}"  # its own, whatever ran before
    thrift(f"create table {table} using delta as select id, id * 2 as twice from range(1, 101)")
    old_pids = (kafka.status().pid, spark_server.status().pid)

    assert lakehouse_cli("down").returncode == 0
    assert not kafka.status().running and not spark_server.status().running
    stop_again = lakehouse_cli("down")
    assert stop_again.returncode == 0 and "not running" in stop_again.stdout

    restarted = lakehouse_cli("up")
    assert restarted.returncode == 0, restarted.stderr
    assert (kafka.status().pid, spark_server.status().pid) != old_pids
    assert sorted(_consume_all(topic)) == sorted(sent)
    assert thrift(f"select count(*), sum(twice) from {table}") == [(100, 10100)]


def test_dbt_build_embedded_when_the_server_is_stopped(spark_server, thrift):
    assert lakehouse_cli("spark", "stop").returncode == 0
    try:
        thrift_down = lakehouse_cli("spark", "status")
        assert "spark: stopped" in thrift_down.stdout

        # Cautious: only the tests of `products` alone (a relationship test from `campaigns` needs that seed too).
        result = dbt_cli("build", "--target", "embedded", "--select", "products", "--indirect-selection", "cautious")
        assert result.returncode == 0, result.stdout[-3000:]
        assert "PASS=" in result.stdout
    finally:
        # The next tests need the server, whatever happened here.
        assert lakehouse_cli("spark", "start").returncode == 0

    # The embedded session wrote to the same metastore and warehouse the server reads.
    assert dict(thrift(PRODUCTS_BY_CATEGORY)) == EXPECTED_PRODUCTS_BY_CATEGORY
