"""Resources for the services the assets touch, configured from the environment (LAKEHOUSE_*)."""

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource
from pydantic import Field
from pyspark.sql import SparkSession

from ingestion import kafka_client
from ingestion.config import dbt_executable, settings
from ingestion.sources import Source
from orchestration.project import dbt_project


class SparkServer(ConfigurableResource):
    """The lakehouse Spark server, reached over Spark Connect."""

    url: str = Field(default_factory=lambda: settings().spark_connect_url)

    @contextmanager
    def session(self) -> Iterator[SparkSession]:
        from ingestion.spark import connect

        spark = connect()
        try:
            yield spark
        finally:
            spark.stop()


class KafkaBroker(ConfigurableResource):
    """The Kafka cluster the topics live on."""

    bootstrap_servers: str = Field(default_factory=lambda: settings().kafka_bootstrap)

    def unread_offsets(self, source: Source) -> dict[int, tuple[int, int]]:
        """Per partition of the source's topic, (offset the lakehouse holds up to, end offset), for
        the partitions that have messages the lakehouse does not hold yet. Quick: no data is read."""
        from kafka import TopicPartition

        consumer = kafka_client.consumer(
            group_id=f"lakehouse-bronze-{source.name}", request_timeout_ms=10_000, api_version_auto_timeout_ms=5_000
        )
        try:
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
