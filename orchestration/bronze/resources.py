"""The Spark server the ingestion writes through, configured from the environment (LAKEHOUSE_*)."""

import functools

from dagster import ConfigurableResource
from pyspark.sql import SparkSession

from lakehouse.settings import settings


class SparkResource(ConfigurableResource):
    """The lakehouse Spark server, over Spark Connect."""

    connect_url: str
    """`sc://host:port` (LAKEHOUSE_SPARK_HOST, LAKEHOUSE_CONNECT_PORT)."""

    def session(self) -> SparkSession:
        # The process's one Connect session, left open: stopping it would stop it for every other
        # user in the process (a run's other steps, a sensor), and it ends with the process anyway.
        from ingestion.spark import connect

        return connect(self.connect_url)


@functools.cache  # one object: the code location's parts share it, and Definitions.merge wants that
def spark_resource() -> SparkResource:
    return SparkResource(connect_url=settings().spark_connect_url)
