"""The Spark Connect session the ingestion writes through, with retries and a clear error."""

from __future__ import annotations

from pyspark.sql import SparkSession

from ingestion.config import settings
from ingestion.errors import LakehouseError
from ingestion.runtime.service import Port, wait_for_port


def connect() -> SparkSession:
    """A Spark Connect session to the lakehouse server; waits with backoff, then explains."""
    s = settings()
    url = s.spark_connect_url
    # Checked first: the Connect client itself would retry for minutes before failing.
    if not wait_for_port(Port("Spark Connect", s.spark_host, s.connect_port)):
        raise LakehouseError(
            f"the Spark server is unreachable at {url}; nothing was written",
            hint="start it with `lakehouse up` (or `make up`), or set LAKEHOUSE_SPARK_HOST/LAKEHOUSE_CONNECT_PORT",
        )
    return SparkSession.builder.remote(url).getOrCreate()
