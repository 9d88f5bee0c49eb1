"""Resources for the services the assets touch, configured from the environment (LAKEHOUSE_*)."""

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource
from pyspark.sql import SparkSession

from ingestion import kafka_client
from ingestion.config import dbt_executable
from ingestion.sources import Source
from orchestration.project import dbt_project


class SparkServer(ConfigurableResource):
    """The lakehouse Spark server, reached over Spark Connect (LAKEHOUSE_SPARK_HOST, LAKEHOUSE_CONNECT_PORT)."""

    @contextmanager
    def session(self) -> Iterator[SparkSession]:
        # The process's one Connect session, left open: stopping it would stop it for every other
        # user in the process (a run's other steps, a test), and it ends with the process anyway.
        from ingestion.spark import connect

        yield connect()


class KafkaBroker(ConfigurableResource):
    """The Kafka cluster the topics live on (LAKEHOUSE_KAFKA_HOST, LAKEHOUSE_KAFKA_PORT)."""

    def unread_offsets(self, source: Source) -> dict[int, tuple[int, int]]:
        """Per partition of the source's topic, (offset the lakehouse holds up to, end offset), for
        the partitions that have messages the lakehouse does not hold yet. Quick: no data is read."""
        from kafka import TopicPartition

        consumer = kafka_client.consumer(group_id=f"lakehouse-bronze-{source.name}")
        try:
            if source.topic not in consumer.topics():  # fetches fresh metadata: a new topic shows up
                return {}
            partitions = consumer.partitions_for_topic(source.topic) or set()
            tps = [TopicPartition(source.topic, p) for p in sorted(partitions)]
            ends = consumer.end_offsets(tps) if tps else {}
            unread = {}
            for tp in tps:
                held = consumer.committed(tp) or 0
                if ends[tp] > held:
                    unread[tp.partition] = (held, ends[tp])
            return unread
        finally:
            consumer.close()


def resources() -> dict:
    return {
        "spark": SparkServer(),
        "kafka": KafkaBroker(),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
    }
