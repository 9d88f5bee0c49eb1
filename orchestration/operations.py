"""Operations a data engineer runs by hand: roll back a bronze batch, replay it, rebuild what depends on it."""

from dagster import Config, Definitions, OpExecutionContext, Out, job, op
from dagster_dbt import DbtCliResource

from ingestion.engine import describe, replay, rollback
from ingestion.sources import get_source
from orchestration.project import dbt_project
from orchestration.resources import SparkServer
from orchestration.transform import LakehouseTranslator


class BatchToReplay(Config):
    source: str
    """Source name, e.g. `transactions` or `sales`."""
    batch_id: str
    """Batch id from `bronze.ingestion_batches` (or `lakehouse batches`)."""


@op(out=Out(str), pool="bronze_replay")
def rollback_and_replay_batch(context: OpExecutionContext, config: BatchToReplay, spark: SparkServer) -> str:
    source = get_source(config.source)
    with spark.session() as session:
        rolled = rollback(session, source, config.batch_id)
        context.log.info(f"rolled back: {describe(rolled)}")
        replayed = replay(session, source, config.batch_id)
        context.log.info(f"replayed: {describe(replayed)}")
    return source.name


@op(out={}, pool="dbt")
def rebuild_downstream(context: OpExecutionContext, source_name: str, dbt: DbtCliResource):
    """Incremental models keep rows they merged: what reads the source is rebuilt from scratch."""
    yield from dbt.cli(
        ["build", "--select", f"source:bronze.{source_name}+", "--full-refresh"],
        manifest=dbt_project.manifest_path,
        dagster_dbt_translator=LakehouseTranslator(),
    ).stream()


@job(description="Roll back a bronze batch, replay it from its file or Kafka offsets, rebuild its downstream models.")
def rollback_and_replay():
    rebuild_downstream(rollback_and_replay_batch())


defs = Definitions(jobs=[rollback_and_replay])
