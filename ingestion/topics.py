"""Kafka topics into bronze: offsets planned from the ledger, messages read by the Spark server.

The ledger is the one truth of how far the lakehouse holds a topic. Offsets are committed to the
broker (consumer group `lakehouse-bronze-<source>`) only after the ledger says `committed`, for
monitoring tools; they are never read back.
"""

from __future__ import annotations

import json
import logging
from threading import Event

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ingestion import kafka_client
from ingestion.batch import BatchWriter, Options, Writers
from ingestion.config import settings
from ingestion.errors import LakehouseError
from ingestion.ledger import Batch, kafka_positions, read_batches
from ingestion.locks import source_lock
from ingestion.network import port_answers
from ingestion.plans import KafkaPlan, OffsetRange, offsets_text
from ingestion.sources import Source

log = logging.getLogger(__name__)


def consumer_group(source: Source) -> str:
    return f"lakehouse-bronze-{source.name}"


class TopicOffsets:
    """A topic's offsets as the lakehouse sees them: where the ledger holds it up to, where Kafka's
    retention starts, and where the topic ends. Plans ranges; commits them for monitoring.
    Only metadata goes through this client: the messages themselves are read by Spark."""

    def __init__(self, source: Source, batches: list[Batch]) -> None:
        self.source, self.topic = source, source.kafka_topic
        self._consumer = kafka_client.consumer(group_id=consumer_group(source))
        self.positions = kafka_positions(batches)
        self.ends: dict[int, int] = {}
        for partition, (beginning, end) in kafka_client.partition_offsets(self._consumer, self.topic).items():
            if self.positions.get(partition, 0) < beginning:
                log.info("%s: partition %s starts at %s (retention); skipping ahead", source.name, partition, beginning)
                self.positions[partition] = beginning
            self.ends[partition] = end

    @property
    def exists(self) -> bool:
        return bool(self.ends)

    def unread(self) -> tuple[OffsetRange, ...]:
        """Per partition, the messages the ledger has not planned yet."""
        return self.plan(budget=None)

    def plan(self, budget: int | None) -> tuple[OffsetRange, ...]:
        """The next ranges to read, at most `budget` messages in all, partition by partition."""
        ranges = []
        for partition in sorted(self.ends):
            start = self.positions.get(partition, 0)
            take = self.ends[partition] - start if budget is None else min(self.ends[partition] - start, budget)
            if take > 0:
                ranges.append(OffsetRange(partition, start, start + take))
                if budget is not None:
                    budget -= take
        return tuple(ranges)

    def advance(self, ranges: tuple[OffsetRange, ...]) -> None:
        self.positions.update({r.partition: r.end for r in ranges})

    def commit(self) -> None:
        """Tell Kafka how far the ledger holds the topic (monitoring only: never read back).

        All partitions every time, so that a run killed between its ledger commit and this call is
        made good by the next run, even one that finds nothing new to read."""
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        held = {p: end for p, end in self.positions.items() if p in self.ends and end > 0}
        if held:
            self._consumer.commit(
                {TopicPartition(self.topic, p): OffsetAndMetadata(end, "", -1) for p, end in held.items()}
            )

    def close(self) -> None:
        self._consumer.close()


def unread_offsets(spark: SparkSession, source: Source, batches: list[Batch] | None = None) -> tuple[OffsetRange, ...]:
    """The messages of the source's topic that the ledger has not planned: what an ingestion would
    read. `batches`: the source's ledger, when the caller read it already."""
    offsets = TopicOffsets(source, read_batches(spark, source) if batches is None else batches)
    try:
        return offsets.unread()
    finally:
        offsets.close()


def kafka_messages(spark: SparkSession, plan: KafkaPlan) -> DataFrame:
    """Exactly the messages of the planned offset ranges, staged for validation.

    The Spark server reads them itself with Spark's Kafka source (Java client, one task per
    partition): nothing passes through Python, and a range no longer held by Kafka fails the
    batch (`failOnDataLoss`) rather than landing part of it.
    """
    topic = plan.topic
    offsets = {
        "startingOffsets": {topic: {str(r.partition): r.start for r in plan.ranges}},
        "endingOffsets": {topic: {str(r.partition): r.end for r in plan.ranges}},
    }
    messages = (
        spark.read.format("kafka")
        .options(**kafka_client.spark_options())
        .option("assign", json.dumps({topic: [r.partition for r in plan.ranges]}))
        .options(**{name: json.dumps(value) for name, value in offsets.items()})
        .option("failOnDataLoss", "true")
        # A task's consumer also fetches where its range ends, at the log's end when the batch read
        # all there was; the broker holds such a fetch `fetch.max.wait.ms` (500 ms by default) for
        # data that a bounded read never uses: half a second per partition of every micro-batch.
        .option("kafka.fetch.max.wait.ms", "10")
        .load()
    )
    value = F.col("value").cast("string")
    return messages.select(
        F.make_valid_utf8(value).alias("_raw"),
        F.lit(None).cast("map<string,string>").alias("_fields"),
        F.when(F.col("value").isNull(), F.lit("empty message (null value)"))
        .when(F.length("value") == 0, F.lit("empty message (zero bytes)"))
        .when(~F.is_valid_utf8(value), F.lit("undecodable bytes (the message is not UTF-8)"))
        .alias("_error"),
        F.col("topic").alias("_kafka_topic"),
        F.col("partition").alias("_kafka_partition"),
        F.col("offset").alias("_kafka_offset"),
        F.col("timestamp").alias("_kafka_timestamp"),
        F.make_valid_utf8(F.col("key").cast("string")).alias("_kafka_key"),
    )


def ingest_topic(
    spark: SparkSession,
    source: Source,
    options: Options,
    max_batches: int | None = None,
    stop: Event | None = None,
    writers: Writers | None = None,
) -> list[Batch]:
    """Ingest what the topic holds now (up to `max_batches` batches, or until `stop` is set), then return."""
    with source_lock(source):
        writer = writers.writer(spark, source, options) if writers else BatchWriter(spark, source, options)
        offsets = TopicOffsets(source, writer.ledger.batches)
        try:
            done: list[Batch] = []
            if not offsets.exists:
                log.info("%s: topic %s does not exist yet; nothing to ingest", source.name, source.topic)
                return done
            offsets.commit()
            while (max_batches is None or len(done) < max_batches) and not (stop and stop.is_set()):
                ranges = offsets.plan(options.batch_messages)
                if not ranges:
                    break
                done.append(write_kafka_batch(writer, writer.ledger.start(KafkaPlan(source.kafka_topic, ranges))))
                offsets.advance(done[-1].kafka_plan.ranges)  # what was written (another run's plan, should it have won)
                offsets.commit()
            return done
        finally:
            offsets.close()


def write_kafka_batch(writer: BatchWriter, batch: Batch) -> Batch:
    try:
        result = writer.write(batch, kafka_messages(writer.spark, batch.kafka_plan))
    except PySparkException as error:
        s = settings()
        if not any(port_answers(port) for port in kafka_client.broker_ports()):
            raise LakehouseError(
                f"the Kafka broker at {s.kafka_bootstrap} became unreachable while batch {batch.batch_id} was read; "
                "nothing of the batch was committed",
                hint="start it again (`lakehouse up`): the next ingestion re-runs the batch from its plan",
            ) from error
        if "not available in Kafka any more" in str(error):
            raise LakehouseError(
                f"batch {batch.batch_id} cannot be read: Kafka no longer holds all of its offsets "
                f"({offsets_text(batch.kafka_plan.ranges)}); nothing of the batch was committed",
                hint="the topic's retention removed them before they were ingested; raise its retention.ms",
            ) from error
        raise
    log.info("%s: %s", writer.source.name, result.describe())
    return result
