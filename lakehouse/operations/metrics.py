"""The lakehouse's metrics for Prometheus (`GET /metrics` of `lakehouse api`), read at scrape time
from what the lakehouse keeps: the ledger per source, the topics' end offsets for the consumer lag,
`ops.dbt_builds` for the last build, and whether each service answers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from pyspark.sql import SparkSession

from ingestion.network import Port, port_answers
from ingestion.sources import SOURCES
from lakehouse.operations.records import BUILDS, latest_batches
from lakehouse.settings import settings

log = logging.getLogger(__name__)


def registry(spark: Callable[[], SparkSession]) -> CollectorRegistry:
    """A registry of the lakehouse's metrics only (no process metrics of the API itself)."""
    collecting = CollectorRegistry(auto_describe=False)
    collecting.register(LakehouseCollector(spark))
    return collecting


class LakehouseCollector:
    def __init__(self, spark: Callable[[], SparkSession]) -> None:
        self.spark = spark

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("lakehouse_service_up", "1 when the service answers on its port", labels=["service"])
        answers = {name: port_answers(port) for name, port in _service_ports().items()}
        for name, answering in answers.items():
            up.add_metric([name], 1.0 if answering else 0.0)
        yield up
        if not answers["spark_connect"]:
            return
        spark = self.spark()
        yield from _source_metrics(spark)
        if any(answers[name] for name in answers if name.startswith("kafka")):
            yield from _lag_metrics(spark)
        yield from _build_metrics(spark)


def _service_ports() -> dict[str, Port]:
    s = settings()
    ports = {
        "spark_connect": Port("Spark Connect", s.spark_host, s.connect_port),
        "spark_thrift": Port("Thrift", s.spark_host, s.thrift_port),
    }
    for n, port in enumerate(s.kafka_ports, start=1):
        ports[f"kafka_{n}"] = Port("Kafka", s.kafka_host, port)
    return ports


_SOURCE_GAUGES = {
    "last_batch_age_seconds": "Seconds since the source's last committed batch finished",
    "last_batch_rows": "Good records of the source's latest batch",
    "last_batch_bad_rows": "Bad records of the source's latest batch",
    "last_batch_duration_seconds": "Seconds the source's latest batch took, from its start to its ledger event",
}


def _source_metrics(spark: SparkSession) -> Iterator[Metric]:
    if not spark.catalog.tableExists("bronze.ingestion_batches"):
        return
    latest = latest_batches(spark)
    gauges = {
        name: GaugeMetricFamily(f"lakehouse_source_{name}", text, labels=["source"])
        for name, text in _SOURCE_GAUGES.items()
    }
    for row in latest:
        values = {
            "last_batch_age_seconds": row.age_s,
            "last_batch_rows": row.rows_good,
            "last_batch_bad_rows": row.rows_bad,
            "last_batch_duration_seconds": row.duration_s,
        }
        for name, value in values.items():
            if value is not None:
                gauges[name].add_metric([row.source], float(value))
    yield from gauges.values()
    batches = GaugeMetricFamily(
        "lakehouse_source_batches", "Batches of the source in the ledger, by status", labels=["source", "status"]
    )
    for row in spark.sql("select source, status, count(*) as n from bronze.ingestion_batches group by 1, 2").collect():
        batches.add_metric([row.source, row.status], float(row.n))
    yield batches


def _lag_metrics(spark: SparkSession) -> Iterator[Metric]:
    from ingestion.topics import unread_offsets

    messages = GaugeMetricFamily(
        "lakehouse_source_consumer_lag_messages",
        "Messages of the topic the ledger has not taken yet",
        labels=["source"],
    )
    seconds = GaugeMetricFamily(
        "lakehouse_source_consumer_lag_seconds",
        "Age of the oldest message the ledger has not taken yet (0 when none waits)",
        labels=["source"],
    )
    for source in (s for s in SOURCES.values() if s.kind == "kafka"):
        try:
            unread = unread_offsets(spark, source)
        except Exception as error:  # noqa: BLE001 (a topic not there yet, a broker away: no figure)
            log.warning("no consumer lag for %s: %s", source.name, error)
            continue
        messages.add_metric([source.name], float(sum(r.end - r.start for r in unread)))
        oldest = _oldest_timestamp(source.topic, unread)
        seconds.add_metric([source.name], max(0.0, time.time() - oldest) if oldest else 0.0)
    yield messages
    yield seconds


def _oldest_timestamp(topic: str, unread) -> float | None:
    """The timestamp (seconds) of the first unread message of each partition, the oldest of them."""
    if not unread:
        return None
    from kafka import TopicPartition

    from ingestion import kafka_client

    consumer = kafka_client.consumer()
    stamps = []
    try:
        for offsets in unread:
            partition = TopicPartition(topic, offsets.partition)
            consumer.assign([partition])
            consumer.seek(partition, offsets.start)
            records = consumer.poll(timeout_ms=2000, max_records=1).get(partition, [])
            if records:
                stamps.append(records[0].timestamp / 1000)
    finally:
        consumer.close()
    return min(stamps, default=None)


def _build_metrics(spark: SparkSession) -> Iterator[Metric]:
    if not spark.catalog.tableExists(BUILDS):
        return
    rows = spark.sql(
        f"""select seconds, models, models_failed, tests, tests_failed, tests_warned,
                   cast(unix_millis(finished_at) as double) / 1000 as finished_s
            from {BUILDS} where command = 'build' order by finished_at desc limit 1"""
    ).collect()
    if not rows:
        return
    last = rows[0]
    for name, text, value in (
        ("duration_seconds", "Seconds of the last dbt build", last.seconds),
        ("models", "Models the last dbt build ran", last.models),
        ("models_failed", "Models of the last dbt build that failed", last.models_failed),
        ("tests", "Tests the last dbt build ran", last.tests),
        ("tests_failed", "Tests of the last dbt build that failed or errored", last.tests_failed),
        ("tests_warned", "Tests of the last dbt build that warned", last.tests_warned),
        ("finished_timestamp_seconds", "When the last dbt build finished (Unix time)", last.finished_s),
    ):
        gauge = GaugeMetricFamily(f"lakehouse_last_build_{name}", text)
        gauge.add_metric([], float(value))
        yield gauge
