"""The library's front door: ingest a source, roll a batch back, replay or purge it, ask what is pending.

from ingestion.api import ingest
from ingestion.sources import get_source
from ingestion.spark import connect

batches = ingest(connect(), get_source("sales"))
"""

from __future__ import annotations

from threading import Event

from pyspark.sql import SparkSession

from ingestion.batch import Options, Writers
from ingestion.files import ingest_files
from ingestion.landing import pending_files
from ingestion.ledger import Batch, read_batches_of
from ingestion.recovery import purge, replay, rollback
from ingestion.sources import Source
from ingestion.topics import ingest_topic, unread_offsets

__all__ = [
    "Batch",
    "Options",
    "Writers",
    "ingest",
    "pending_files",
    "purge",
    "read_batches_of",
    "replay",
    "rollback",
    "unread_offsets",
]


def ingest(
    spark: SparkSession,
    source: Source,
    options: Options | None = None,
    max_batches: int | None = None,
    stop: Event | None = None,
    writers: Writers | None = None,
) -> list[Batch]:
    """Land what the source holds now in bronze (a topic: at most `max_batches` batches), then
    return; when `stop` is set, return after the batch being written. `writers`: kept from one
    call to the next by a caller that ingests round after round (the ledger is not read again)."""
    options = options or Options()
    if source.kind == "kafka":
        return ingest_topic(spark, source, options, max_batches, stop, writers)
    return ingest_files(spark, source, options, stop, writers)
