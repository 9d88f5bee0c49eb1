"""One ingestion per source at a time, wherever it runs.

Locally a lock file on the data home's disk does; in cluster mode ingestions may start on several
machines, so the lock is a PostgreSQL advisory lock in the metastore's database, which they all
reach. Either is released by the operating system or the server when its process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

from ingestion.config import settings
from ingestion.errors import LakehouseError
from ingestion.sources import Source


def _busy(source: Source) -> LakehouseError:
    return LakehouseError(
        f"another ingestion of {source.name} is running",
        hint="wait for it to finish; batches are never processed twice",
    )


@contextmanager
def source_lock(source: Source) -> Iterator[None]:
    if settings().metastore_in_postgres:
        with _advisory_lock(source):
            yield
        return
    settings().run_dir.mkdir(parents=True, exist_ok=True)
    with (settings().run_dir / f"ingest-{source.name}.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(source) from None
        yield


def metastore_conninfo() -> str:
    """libpq's form of the metastore's JDBC URL (jdbc:postgresql://host:port/database), with its login."""
    from psycopg.conninfo import make_conninfo

    s = settings()
    url = urlparse(s.spark_metastore_url.removeprefix("jdbc:"))
    login = {"user": s.metastore_user} | ({"password": s.metastore_password} if s.metastore_password else {})
    return make_conninfo(host=url.hostname, port=url.port or 5432, dbname=url.path.lstrip("/"), **login)


@contextmanager
def _advisory_lock(source: Source) -> Iterator[None]:
    import psycopg

    key = int.from_bytes(hashlib.sha256(f"lakehouse-ingest:{source.name}".encode()).digest()[:8], "big", signed=True)
    try:
        connection = psycopg.connect(metastore_conninfo(), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as error:
        raise LakehouseError(
            f"cannot reach the metastore's PostgreSQL to lock {source.name} for ingestion: {error}".strip(),
            hint="start it (lakehouse up) or check LAKEHOUSE_METASTORE_URL",
        ) from None
    with connection:
        locked = connection.execute("select pg_try_advisory_lock(%s)", (key,)).fetchone()
        if not (locked and locked[0]):
            raise _busy(source)
        yield
