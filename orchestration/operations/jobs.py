"""Jobs a data engineer runs by hand or on a schedule: build everything; roll back a bronze batch,
replay it, rebuild what depends on it; compact and vacuum every table."""

from dagster import AssetSelection, Config, OpExecutionContext, Out, define_asset_job, job, op
from dagster_dbt import DbtCliResource

from ingestion.api import replay, rollback
from ingestion.sources import get_source
from lakehouse.operations.maintenance import maintain
from orchestration.bronze.resources import SparkResource
from orchestration.transform.project import dbt_project
from orchestration.transform.translator import LakehouseTranslator

build_everything = define_asset_job(
    "build_everything",
    selection=AssetSelection.groups("bronze", "reference", "staging", "silver", "gold"),
    description="Ingest every source, then build every layer.",
)


class BatchToReplay(Config):
    source: str
    """Source name, e.g. `transactions` or `sales`."""
    batch_id: str
    """Batch id from `bronze.ingestion_batches` (or `lakehouse batches`)."""


@op(out=Out(str), pool="bronze_replay")
def rollback_and_replay_batch(context: OpExecutionContext, config: BatchToReplay, spark: SparkResource) -> str:
    source = get_source(config.source)
    session = spark.session()
    rolled = rollback(session, source, config.batch_id)
    context.log.info(f"rolled back: {rolled.describe()}")
    replayed = replay(session, source, config.batch_id)
    context.log.info(f"replayed: {replayed.describe()}")
    return source.name


@op(out={}, pool="dbt")
def rebuild_downstream(context: OpExecutionContext, source_name: str, dbt: DbtCliResource):
    """An ordinary build: silver drops the rolled-back batch's rows and merges the replayed ones."""
    yield from dbt.cli(
        ["build", "--select", f"source:bronze.{source_name}+"],
        manifest=dbt_project.manifest_path,
        dagster_dbt_translator=LakehouseTranslator(),
    ).stream()


@job(description="Roll back a bronze batch, replay it from its file or Kafka offsets, rebuild its downstream models.")
def rollback_and_replay():
    rebuild_downstream(rollback_and_replay_batch())


class Retention(Config):
    retain_hours: float | None = None
    """History a VACUUM keeps; empty: LAKEHOUSE_VACUUM_RETAIN_HOURS (168)."""
    tables: list[str] = []
    """Only these tables (`schema.table`); empty: every Delta table."""


# In the dbt pool: a model rebuilt while OPTIMIZE rewrites its files would make one of them fail.
@op(pool="dbt")
def maintain_every_table(context: OpExecutionContext, config: Retention, spark: SparkResource) -> None:
    for table in maintain(spark.session(), config.retain_hours, config.tables or None):
        context.log.info(table.describe())


@job(
    description="OPTIMIZE every Delta table of bronze, reference, silver and gold, then VACUUM it (`lakehouse maintain`)."
)
def maintain_tables():
    maintain_every_table()
