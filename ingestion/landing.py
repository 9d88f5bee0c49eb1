"""The landing zone: which files a source has, which are finished, and which the ledger lacks.

A file is known by its content hash (a changed file under the same name is a new version), and a
file modified less than `settle_seconds` ago is still being written: it waits for the next run.
The zone is a local folder or an HDFS one (`LAKEHOUSE_LANDING`, see `storage.py`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import SparkSession

from ingestion.config import settings
from ingestion.ledger import Batch, file_progress, read_batches
from ingestion.sources import Source
from ingestion.storage import Folder, StoredFile, folder


@dataclass(frozen=True)
class LandingFile:
    name: str
    """Relative to the source's landing folder."""
    size: int
    mtime_ns: int
    sha256: str


def landing_folder(source: Source) -> Folder:
    return folder(settings().landing).child(source.name)


def file_sha256(file: StoredFile) -> str:
    """The content hash; for a file that cannot be opened, its size and modification time stand in
    (so it is reported once, and again only when it changes)."""
    digest = hashlib.sha256()
    try:
        with file.open() as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except PermissionError:
        return f"unreadable:{file.size}:{file.mtime_ns}"
    return digest.hexdigest()


def settled_files(
    source: Source,
    settle_seconds: float | None = None,
    now: float | None = None,
    known: Mapping[str, LandingFile] | None = None,
) -> list[LandingFile]:
    """The source's files that stopped changing, hashed; `known` files of the same size and
    modification time keep their hash (hashing is the one slow step of looking)."""
    now = time.time() if now is None else now
    settle = settings().ingest_settle_seconds if settle_seconds is None else settle_seconds
    found = []
    for file in landing_folder(source).files():
        if now - file.mtime < settle:
            continue
        cached = (known or {}).get(file.name)
        if cached and (cached.size, cached.mtime_ns) == (file.size, file.mtime_ns):
            found.append(cached)
        else:
            found.append(LandingFile(file.name, file.size, file.mtime_ns, file_sha256(file)))
    return found


def pending_files(
    spark: SparkSession,
    source: Source,
    known: Mapping[str, LandingFile] | None = None,
    batches: list[Batch] | None = None,
) -> tuple[list[LandingFile], list[LandingFile]]:
    """(settled files, those of them the ledger does not hold whole): what an ingestion would read.
    `batches`: the source's ledger, when the caller read it already."""
    settled = settled_files(source, known=known)
    batches = read_batches(spark, source) if batches is None else batches
    return settled, [f for f in settled if file_progress(batches, f.name, f.sha256) is not None]
