"""One Dagster asset per bronze source, keyed exactly as dagster-dbt keys the matching dbt source
(`bronze/<table>`, declared in the sources YAML), downstream of the landing folder or Kafka topic
it reads."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ingestion.api import Batch, ingest
from ingestion.batch_status import BatchStatus
from ingestion.plans import FilePlan, KafkaPlan
from ingestion.shapes import Shape
from ingestion.sources import SOURCES, Source
from lakehouse.settings import settings
from orchestration.bronze.resources import SparkResource

GROUP = "bronze"


def upstream_key(source: Source) -> AssetKey:
    """The landing folder or topic a source reads: `landing/<source>` or `kafka/<topic>`."""
    return AssetKey(["landing", source.name]) if source.kind == "file" else AssetKey(["kafka", source.topic])


def bronze_key(source: Source) -> AssetKey:
    return AssetKey(["bronze", source.name])


def upstream_spec(source: Source) -> AssetSpec:
    if source.kind == "file":
        where = f"Landing folder `{settings().landing}/{source.name}` ({source.format} files)."
    else:
        where = f"Kafka topic `{source.topic}` on {settings().kafka_bootstrap} (JSON values)."
    return AssetSpec(key=upstream_key(source), group_name="landing", description=where, kinds={source.kind})


def batch_metadata(batches: list[Batch]) -> dict:
    """What a data engineer checks after an ingestion: rows in and out, batches, input, Delta version."""
    files = sorted({b.plan.file for b in batches if isinstance(b.plan, FilePlan)})
    ranges = [str(r) for b in batches if isinstance(b.plan, KafkaPlan) for r in b.plan.ranges]
    versions = [b.delta_version for b in batches if b.delta_version is not None]
    return {
        "rows_ingested": sum(b.rows_good or 0 for b in batches),
        "rows_quarantined": sum(b.rows_bad or 0 for b in batches),
        "batches": len(batches),
        "batch_ids": MetadataValue.json([b.batch_id for b in batches]),
        "batches_quarantined_whole": sum(1 for b in batches if b.status == BatchStatus.QUARANTINED),
        "files": MetadataValue.json(files),
        "offset_ranges": MetadataValue.json(ranges),
        "delta_version": max(versions) if versions else None,
    }


READABLE = "files_readable"
SHAPE = "shape_unchanged"


def readable_check(batches: list[Batch]) -> AssetCheckResult:
    """Fails, naming each file and its defect, when a landing file could not be read (the other
    files landed all the same)."""
    skipped = [b.note for b in batches if b.status == BatchStatus.UNREADABLE]
    return AssetCheckResult(
        check_name=READABLE,
        passed=not skipped,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(skipped) if skipped else None,
        metadata={"unreadable_files": MetadataValue.json(skipped)},
    )


def shape_check(source: Source, batches: list[Batch]) -> AssetCheckResult:
    """Warns, naming the batch and what changed, when a batch brought a field or a type the source's
    batches never had, or lacked a field all of them had (`lakehouse schema SOURCE`); fails when a
    batch's records carried none of a required field (the source broke its declaration)."""
    changed = [f"{b.batch_id}: {'; '.join(b.shape_changes)}" for b in batches if b.shape_changes]
    broken = [
        f"{b.batch_id}: required field(s) {', '.join(missing)} in none of its records"
        for b in batches
        if (shape := Shape.from_json(b.shape)) and (missing := shape.missing_required(source))
    ]
    told = broken + changed
    return AssetCheckResult(
        check_name=SHAPE,
        passed=not told,
        severity=AssetCheckSeverity.ERROR if broken else AssetCheckSeverity.WARN,
        description=(f"{'; '.join(told)} (schema policy {source.schema_policy})" if told else None),
        metadata={"shape_changes": MetadataValue.json(changed), "required_fields_missing": MetadataValue.json(broken)},
    )


def bronze_asset(source: Source) -> AssetsDefinition:
    is_file = source.kind == "file"

    @asset(
        key=bronze_key(source),
        deps=[upstream_key(source)],
        group_name=GROUP,
        description=(
            f"{source.description} Bronze: `{source.table}` (the good records of committed batches, a view of the "
            f"Delta table `{source.all_records}`, which holds every record that arrived), with lineage and a batch ledger."
        ),
        kinds={"spark", "delta"},
        # One ingestion of a source at a time, across runs (different sources run side by side).
        pool=f"bronze_{source.name}",
        metadata={"table": source.table, "dagster/table_name": source.table},
        check_specs=[
            AssetCheckSpec(
                SHAPE,
                asset=bronze_key(source),
                description="The batches kept the source's shape: no new field or type, no field gone (a warning); "
                "every required field in each batch (an error).",
            ),
            *(
                [
                    AssetCheckSpec(
                        READABLE,
                        asset=bronze_key(source),
                        description="Every settled landing file could be read (a damaged one is skipped, with its reason).",
                    )
                ]
                if is_file
                else []
            ),
        ],
    )
    def ingest_source(context: AssetExecutionContext, spark: SparkResource) -> MaterializeResult:
        batches = ingest(spark.session(), source)
        metadata = batch_metadata(batches)
        context.log.info(
            f"{source.name}: {metadata['rows_ingested']} rows to {source.table}, "
            f"{metadata['rows_quarantined']} quarantined, in {metadata['batches']} batches"
        )
        for batch in batches:
            if batch.status == BatchStatus.UNREADABLE:
                context.log.error(f"{source.name}: {batch.note}")
        return MaterializeResult(
            metadata={k: v for k, v in metadata.items() if v is not None},
            check_results=[shape_check(source, batches), *([readable_check(batches)] if is_file else [])],
        )

    return ingest_source


LEDGER = AssetSpec(
    key=AssetKey(["ledger", "ingestion_batches"]),
    group_name="landing",
    description="The batch ledger (`bronze.ingestion_batches`): every ingestion writes it; the web log "
    "staging model reads the file version of each batch from it.",
    kinds={"delta"},
)
landing_specs = [*(upstream_spec(source) for source in SOURCES.values()), LEDGER]
bronze_assets = [bronze_asset(source) for source in SOURCES.values()]
