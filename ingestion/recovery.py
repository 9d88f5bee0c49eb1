"""Undo and redo a batch. Rollback is a ledger event: the batch's records stay in bronze, seen by
no reader any more; replay ingests the same file records or Kafka offsets again as a new batch;
purge deletes a batch's records from bronze for good, when they must physically go."""

from __future__ import annotations

import itertools
import logging

from pyspark.sql import SparkSession

from ingestion import tables
from ingestion.batch import BatchWriter, Options
from ingestion.batch_status import LANDED, BatchStatus
from ingestion.errors import LakehouseError
from ingestion.files import records_from, whole_file, write_file_batch, write_whole_file
from ingestion.landing import file_sha256, landing_folder
from ingestion.ledger import Batch
from ingestion.locks import source_lock
from ingestion.plans import FilePlan, KafkaPlan
from ingestion.sources import Source
from ingestion.topics import write_kafka_batch

log = logging.getLogger(__name__)


def _batch_in(writer: BatchWriter, batch_id: str, states: tuple[str, ...], refusal: str, hint: str = "") -> Batch:
    """The batch, when it is in one of `states`; otherwise a clear error: its state, then `refusal`."""
    batch = writer.ledger.find(batch_id)
    if batch.status not in states:
        raise LakehouseError(f"batch {batch_id} is {batch.status}; {refusal}", hint=hint)
    return batch


def rollback(spark: SparkSession, source: Source, batch_id: str) -> Batch:
    """Hide a batch from every reader: one ledger event (its records stay in bronze for a replay)."""
    with source_lock(source):
        writer = BatchWriter(spark, source, Options())
        batch = _batch_in(writer, batch_id, LANDED, "only committed or quarantined batches can be rolled back")
        batch.status = BatchStatus.ROLLED_BACK
        batch.note = f"rolled back; its records stay in {source.all_records} (`lakehouse purge` deletes them)"
        writer.ledger.record(batch)
        log.info("%s: %s rolled back", source.name, batch_id)
        return batch


def purge(spark: SparkSession, source: Source, batch_id: str) -> Batch:
    """Delete the records of a rolled-back or quarantined batch from bronze (a Delta DELETE)."""
    with source_lock(source):
        writer = BatchWriter(spark, source, Options())
        batch = _batch_in(
            writer,
            batch_id,
            (BatchStatus.ROLLED_BACK, BatchStatus.QUARANTINED),
            "only rolled-back or quarantined batches can be purged",
            hint=f"roll it back first: lakehouse rollback {source.name} {batch_id}",
        )
        version = tables.purge_batch(spark, source, batch_id)
        batch.delta_version = version
        batch.note = (
            f"purged: its records deleted from {source.all_records} in Delta version {version} "
            f"(older versions keep them until VACUUM removes their files)"
        )
        writer.ledger.record(batch)
        log.info("%s: %s purged (%s is now at Delta version %s)", source.name, batch_id, source.all_records, version)
        return batch


def replay(spark: SparkSession, source: Source, batch_id: str) -> Batch:
    """Ingest a rolled-back batch again, from its file or its Kafka offsets, as a new batch."""
    with source_lock(source):
        writer = BatchWriter(spark, source, Options())
        batch = _batch_in(
            writer,
            batch_id,
            (BatchStatus.ROLLED_BACK,),
            "roll it back first (replaying it now would duplicate its rows)",
            hint=f"lakehouse rollback {source.name} {batch_id}",
        )
        note = f"replay of {batch_id}"
        plan = batch.plan
        if isinstance(plan, KafkaPlan):
            return write_kafka_batch(writer, writer.ledger.start(plan, note=note))
        file = landing_folder(source).file(plan.file)
        if file is None or file_sha256(file) != plan.sha256:
            raise LakehouseError(
                f"cannot replay {batch_id}: {landing_folder(source).url_of(plan.file)} is gone or changed since it was ingested",
                hint="put the original file back in the landing folder",
            )
        if plan.max_records is None:
            new = writer.ledger.start(FilePlan(plan.file, plan.sha256, 0, None), note=note)
            return write_whole_file(writer, new, whole_file(writer, file))
        chunk = list(itertools.islice(records_from(source, plan), plan.records))
        new = writer.ledger.start(FilePlan(plan.file, plan.sha256, plan.start_record, plan.max_records), note=note)
        return write_file_batch(writer, new, chunk, bool(plan.eof))
