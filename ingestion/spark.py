"""The Spark Connect session the ingestion writes through, with retries and a clear error."""

from __future__ import annotations

from urllib.parse import urlparse

from pyspark.sql import SparkSession

from ingestion.config import settings
from ingestion.errors import LakehouseError
from ingestion.network import Port, wait_for_port


def connect(url: str | None = None) -> SparkSession:
    """A Spark Connect session to the lakehouse server (`sc://host:port`, by default the
    configured one); waits with backoff, then explains."""
    url = url or settings().spark_connect_url
    address = urlparse(url.replace("sc://", "http://", 1))
    # Checked first: the Connect client itself would retry for minutes before failing.
    if not wait_for_port(Port("Spark Connect", address.hostname or "", address.port or 15002)):
        raise LakehouseError(
            f"the Spark server is unreachable at {url}; nothing was written",
            hint="start it with `lakehouse up` (or `make up`), or set LAKEHOUSE_SPARK_HOST/LAKEHOUSE_CONNECT_PORT",
        )
    return SparkSession.builder.remote(url).getOrCreate()
