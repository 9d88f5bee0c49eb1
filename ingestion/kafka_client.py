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
    servers = (server.rsplit(":", 1) for server in s.kafka_bootstrap.split(","))
    return [Port("Kafka broker", host.strip(), int(port)) for host, port in servers]


def security_config() -> dict[str, Any]:
    """kafka-python's settings for the broker's security protocol (none for PLAINTEXT)."""
    s = settings()
    if not s.kafka_sasl:
        return {}
    if not s.kafka_username:
        raise LakehouseError(
            f"LAKEHOUSE_KAFKA_SECURITY_PROTOCOL={s.kafka_security_protocol} needs a user",
            hint="set LAKEHOUSE_KAFKA_USERNAME and LAKEHOUSE_KAFKA_PASSWORD",
        )
    return {
        "security_protocol": s.kafka_security_protocol,
        "sasl_mechanism": s.kafka_sasl_mechanism,
        "sasl_plain_username": s.kafka_username,
        "sasl_plain_password": s.kafka_password,
    }


def spark_options() -> dict[str, str]:
    """The same for Spark's Kafka source (Kafka's own client properties, prefixed `kafka.`)."""
    s = settings()
    options = {"kafka.bootstrap.servers": s.kafka_bootstrap}
    if s.kafka_sasl:
        security_config()  # the same check
        module = "plain.PlainLoginModule" if s.kafka_sasl_mechanism == "PLAIN" else "scram.ScramLoginModule"
        credentials = f'username="{s.kafka_username}" password="{s.kafka_password}"'
        options |= {
            "kafka.security.protocol": s.kafka_security_protocol,
            "kafka.sasl.mechanism": s.kafka_sasl_mechanism,
            "kafka.sasl.jaas.config": f"org.apache.kafka.common.security.{module} required {credentials};",
        }
    return options


def _reachable(factory: Callable[..., T], **config: Any) -> T:
    from kafka.errors import KafkaTimeoutError, SaslAuthenticationFailedError

    s = settings()
    error = LakehouseError(
        f"the Kafka broker is unreachable at {s.kafka_bootstrap}; nothing was read or written",
        hint="start it with `lakehouse up`, or set LAKEHOUSE_KAFKA_BOOTSTRAP (or _HOST/_PORT)",
    )
    refused = LakehouseError(
        f"the Kafka broker at {s.kafka_bootstrap} did not let user {s.kafka_username!r} in "
        f"({s.kafka_security_protocol}, {s.kafka_sasl_mechanism}); nothing was read or written",
        hint="check LAKEHOUSE_KAFKA_USERNAME, _PASSWORD, _SASL_MECHANISM and _SECURITY_PROTOCOL",
    )
    if not wait_for_port(broker_ports()):
        raise error
    try:
        return factory(bootstrap_servers=s.kafka_bootstrap, **security_config(), **config)
    except KafkaTimeoutError:  # it answered, but not as a broker, or not to us (kafka-python retried for 30 s)
        raise (refused if s.kafka_sasl else error) from None
    except SaslAuthenticationFailedError:
        raise refused from None


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
