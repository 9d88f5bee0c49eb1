"""The Spark Connect session the ingestion writes through, with retries and a clear error."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlparse

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.connect.session import SparkSession as ConnectSession

from ingestion.config import settings
from ingestion.errors import LakehouseError
from ingestion.network import Port, wait_for_port

_sessions: dict[str, ConnectSession] = {}
_retired: list[ConnectSession] = []
"""Stopped sessions, kept alive: a Connect session's `__del__` shuts down the release thread pool
that every session of the process shares, and the garbage collector may run it in the middle of
another session's query ("cannot schedule new futures after shutdown")."""
_lock = threading.Lock()


def connect(url: str | None = None) -> ConnectSession:
    """A Spark Connect session to the lakehouse server at `url` (`sc://host:port`, by default the
    configured one), one per server in the process; waits with backoff, then explains.

    Not `getOrCreate()`: it hands back the process's active session whatever server it talks to."""
    url = url or settings().spark_connect_url
    with _lock:
        session = _sessions.get(url)
        if session is not None and not session.is_stopped:
            return session
        if session is not None:
            _retired.append(session)
        address = urlparse(url.replace("sc://", "http://", 1))
        # Checked first: the Connect client itself would retry for minutes before failing.
        if not wait_for_port(Port("Spark Connect", address.hostname or "", address.port or 15002)):
            raise LakehouseError(
                f"the Spark server is unreachable at {url}; nothing was written",
                hint="start it with `lakehouse up` (or `make up`), or set LAKEHOUSE_SPARK_HOST/LAKEHOUSE_CONNECT_PORT",
            )
        session = _sessions[url] = SparkSession.builder.remote(with_token(url, settings().spark_token)).create()
        return session


def with_token(url: str, token: str) -> str:
    """`url` carrying the server's bearer token. PySpark sends a token only over TLS or to the host
    named `localhost` (gRPC's local credentials, which check that the peer is this machine): a
    loopback address is named so. A remote server with a token needs TLS in front of it."""
    if not token:
        return url
    address = urlparse(url.replace("sc://", "http://", 1))
    host = "localhost" if address.hostname in ("127.0.0.1", "::1", "localhost") else address.hostname
    return f"sc://{host}:{address.port or 15002}/;token={token}"


def parallelism(spark: SparkSession) -> int:
    """How many tasks the server runs at once by default (its cores, or its executors' on a cluster):
    the partitions Spark gives a range when none are asked for."""
    partitions = spark.range(0, 1 << 16).select(F.spark_partition_id().alias("partition"))
    highest = partitions.agg(F.max("partition")).first()
    assert highest is not None  # an aggregate has one row
    return highest[0] + 1


@contextmanager
def session_settings(spark: SparkSession, values: Mapping[str, str]) -> Iterator[None]:
    """`values` set in the session for the block's statements, as they were after it."""
    before: dict[str, str | None] = {name: spark.conf.get(name) for name in values}
    for name, value in values.items():
        spark.conf.set(name, value)
    try:
        yield
    finally:
        for name, previous in before.items():
            if previous is None:
                spark.conf.unset(name)
            else:
                spark.conf.set(name, previous)
