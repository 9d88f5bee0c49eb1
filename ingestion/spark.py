"""The Spark Connect session the ingestion writes through, with retries and a clear error."""

from __future__ import annotations

import time

from pyspark.sql import SparkSession

from ingestion.config import settings
from ingestion.errors import LakehouseError


def connect(retries: int = 5, first_backoff_s: float = 1.0) -> SparkSession:
    """A Spark Connect session to the lakehouse server; retries with backoff, then explains."""
    url = settings().spark_connect_url
    delay, last_error = first_backoff_s, None
    for attempt in range(1, retries + 1):
        try:
            spark = SparkSession.builder.remote(url).getOrCreate()
            spark.sql("select 1").collect()
            return spark
        except Exception as error:  # grpc raises several types; all mean "not reachable now"
            last_error = error
            if attempt < retries:
                print(f"spark server at {url} not reachable (attempt {attempt}/{retries}), retrying in {delay:.0f}s")
                time.sleep(delay)
                delay *= 2
    raise LakehouseError(
        f"the Spark server is unreachable at {url} ({type(last_error).__name__}: "
        f"{str(last_error).splitlines()[0] if last_error else ''}); nothing was written",
        hint="start it with `lakehouse up` (or `make up`), or set LAKEHOUSE_SPARK_HOST/LAKEHOUSE_CONNECT_PORT",
    )
