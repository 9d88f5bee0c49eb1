"""Landing files into bronze: a file that Spark can split is one batch read by Spark where it lies;
any other file is read by Python, one plan per chunk of the file version, in bounded memory."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Event
from typing import TypeVar, cast

from pyspark.sql import SparkSession

from ingestion.batch import BatchWriter, Options, Writers
from ingestion.batch_status import LANDED, BatchStatus
from ingestion.landing import file_sha256, landing_folder
from ingestion.ledger import Batch, file_progress
from ingestion.lines import LineFile, in_one_split, line_file, staged_lines
from ingestion.locks import source_lock
from ingestion.plans import FilePlan
from ingestion.readers import Record, UnreadableFile, file_defect, read_records
from ingestion.sources import Source
from ingestion.storage import StoredFile

log = logging.getLogger(__name__)
T = TypeVar("T")
_END = object()


def _chunks(records: Iterable[Record], size: int) -> Iterator[tuple[list[Record], bool]]:
    """Consecutive chunks of `size` records, each with whether it is the last one."""
    iterator = iter(records)
    chunk = list(itertools.islice(iterator, size))
    while True:
        following = next(iterator, None)
        yield chunk, following is None
        if following is None:
            return
        chunk = [following, *itertools.islice(iterator, size - 1)]


def _read_ahead(items: Iterator[T]) -> Iterator[T]:
    """`items`, the next one read in a thread while the caller works on this one: Python splits
    a file's next chunk while Spark writes the last (what the reader raises is raised here)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
        pending = pool.submit(next, items, _END)
        while (item := pending.result()) is not _END:
            pending = pool.submit(next, items, _END)
            yield cast(T, item)


def records_from(source: Source, plan: FilePlan) -> Iterator[Record]:
    """The file's records from the plan's first one on."""
    file = landing_folder(source).file(plan.file)
    if file is None:
        raise UnreadableFile(plan.file, "the file disappeared while it was being read")
    return itertools.islice(read_records(source, file), plan.start_record, None)


def ingest_files(
    spark: SparkSession, source: Source, options: Options, stop: Event | None = None, writers: Writers | None = None
) -> list[Batch]:
    started = time.time()
    with source_lock(source):
        writer = writers.writer(spark, source, options) if writers else BatchWriter(spark, source, options)
        done: list[Batch] = []
        # Which files are stable is decided once, up front: a file still being written when the
        # run starts waits for the next run, however long this one takes.
        for file in landing_folder(source).files():
            if stop and stop.is_set():
                break
            age = started - file.mtime
            if age < options.settle_seconds:
                log.info(
                    "%s: %s changed %.1fs ago, still being written; left for the next run", source.name, file.name, age
                )
                continue
            try:
                sha256 = file_sha256(file)
            except FileNotFoundError:
                log.warning("%s: %s disappeared before it could be read", source.name, file.name)
                continue
            start = file_progress(writer.ledger.batches, file.name, sha256)
            if start is None:
                continue
            plan = FilePlan(file.name, sha256, start, options.batch_rows)
            defect = file_defect(source, file) if start == 0 else None
            if defect:
                done.append(_skip_unreadable(writer, plan, defect))
            elif start == 0 and (lines := line_file(source, file, writer.parallelism)):
                whole = writer.ledger.start(FilePlan(file.name, sha256, 0, None))
                done.append(write_whole_file(writer, whole, lines))
            else:
                done.extend(_ingest_from(writer, plan, stop))
        return done


def _ingest_from(writer: BatchWriter, first: FilePlan, stop: Event | None) -> list[Batch]:
    """Batches of the file from `first.start_record` to its end (or to a stop between batches)."""
    written, start = [], first.start_record
    assert first.max_records is not None  # a file Python reads is cut into batches of max_records
    records = _read_ahead(_chunks(records_from(writer.source, first), first.max_records))
    try:
        for chunk, last in records:
            if stop and stop.is_set():
                break
            batch = writer.ledger.start(FilePlan(first.file, first.sha256, start, first.max_records))
            written.append(write_file_batch(writer, batch, chunk, last))
            start += len(chunk)
    except UnreadableFile as error:
        return [*_take_back(writer, first), _skip_unreadable(writer, first, error.defect)]
    return written


def _skip_unreadable(writer: BatchWriter, plan: FilePlan, defect: str) -> Batch:
    """A ledger entry that lands nothing: this version of the file is skipped until it changes."""
    batch = writer.ledger.start(FilePlan(plan.file, plan.sha256, 0, plan.max_records, records=0, eof=True))
    batch.status, batch.rows_good, batch.rows_bad = BatchStatus.UNREADABLE, 0, 0
    batch.note = f"{plan.file}: {defect}; file skipped"
    writer.ledger.record(batch)
    log.error("%s: %s", writer.source.name, batch.note)
    return batch


def _take_back(writer: BatchWriter, plan: FilePlan) -> list[Batch]:
    """Roll back what already landed of a file version found damaged part way: never half-loaded."""
    landed = [
        b
        for b in writer.ledger.batches
        if isinstance(b.plan, FilePlan)
        and (b.plan.file, b.plan.sha256) == (plan.file, plan.sha256)
        and b.status in LANDED
    ]
    for batch in landed:
        batch.status, batch.note = BatchStatus.ROLLED_BACK, "rolled back: the rest of its file turned out unreadable"
        writer.ledger.record(batch)
    return landed


def write_whole_file(writer: BatchWriter, batch: Batch, lines: LineFile) -> Batch:
    header = lines.csv_header[1] if lines.csv_header else ()
    result = writer.write(batch, staged_lines(writer.spark, writer.source, lines), lines.read_settings, header)
    log.info("%s: %s", writer.source.name, result.describe())
    return result


def whole_file(writer: BatchWriter, file: StoredFile) -> LineFile:
    """The file of a whole-file plan, to read again (every line checked, should it now look other)."""
    return line_file(writer.source, file, writer.parallelism) or in_one_split(file)


def write_file_batch(writer: BatchWriter, batch: Batch, chunk: list[Record], last: bool) -> Batch:
    batch.plan = batch.file_plan.read(len(chunk), last)
    result = writer.write_records(batch, chunk)
    log.info("%s: %s", writer.source.name, result.describe())
    return result
