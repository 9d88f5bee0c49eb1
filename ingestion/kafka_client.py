"""Kafka clients configured from settings, with one clear error when the broker is unreachable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ingestion.config import settings
from ingestion.errors import LakehouseError
from ingestion.network import Port, wait_for_port

T = TypeVar("T")


def broker_ports() -> list[Port]:
    s = settings()
    return [Port("Kafka broker", s.kafka_host, port) for port in s.kafka_ports]


def _reachable(factory: Callable[..., T], **config: Any) -> T:
    from kafka.errors import KafkaTimeoutError

    s = settings()
    error = LakehouseError(
        f"the Kafka broker is unreachable at {s.kafka_bootstrap}; nothing was read or written",
        hint="start it with `lakehouse up`, or set LAKEHOUSE_KAFKA_HOST/LAKEHOUSE_KAFKA_PORT",
    )
    if not wait_for_port(broker_ports()):
        raise error
    try:
        return factory(bootstrap_servers=s.kafka_bootstrap, **config)
    except KafkaTimeoutError:  # it answered, but not as a broker (kafka-python retried for 30 s)
        raise error from None


def producer(**config: Any):
    from kafka import KafkaProducer

    defaults = {"acks": "all", "linger_ms": 20, "batch_size": 512 * 1024, "max_request_size": 8 << 20}
    return _reachable(KafkaProducer, **{**defaults, **config})


def consumer(**config: Any):
    from kafka import KafkaConsumer

    return _reachable(KafkaConsumer, **{"enable_auto_commit": False, **config})


def partition_offsets(consumer, topic: str) -> dict[int, tuple[int, int]]:
    """Per partition of `topic`, (first offset Kafka still holds, end offset); empty when the
    topic does not exist. `topics()` fetches fresh metadata, so a new topic shows up."""
    from kafka import TopicPartition

    if topic not in consumer.topics():
        return {}
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    beginnings, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
    return {tp.partition: (beginnings[tp], ends[tp]) for tp in tps}
