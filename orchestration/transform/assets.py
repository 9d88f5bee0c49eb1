"""The dbt models as Dagster assets: groups by layer, descriptions from the dbt docs, dbt tests as
asset checks. A dbt source's asset key is declared in the sources YAML (`meta.dagster.asset_key`)."""

import json
import logging

from dagster import AssetExecutionContext, AssetKey, Config, Output
from dagster_dbt import DbtCliInvocation, DbtCliResource, dbt_assets
from pyspark.errors import PySparkException

from lakehouse.build.changes import BuildPlan, plan_build, record_build, record_sources
from lakehouse.build.dbt import COMPLETED
from lakehouse.operations.records import record_dbt_run
from orchestration.bronze.resources import SparkResource
from orchestration.transform.project import dbt_project
from orchestration.transform.translator import LakehouseTranslator

log = logging.getLogger(__name__)


class DbtBuildConfig(Config):
    full_refresh: bool = False
    """Rebuild incremental models from scratch (after a rollback, or when their logic changed)."""
    only_what_changed: bool = True
    """Leave out what no new batch, model change or failure of the last build reaches (nothing at
    all when there is none); false builds every selected asset."""


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=LakehouseTranslator(),
    pool="dbt",  # one dbt build at a time: two merges into the same Delta table would conflict
)
def lakehouse_dbt_models(
    context: AssetExecutionContext, dbt: DbtCliResource, spark: SparkResource, config: DbtBuildConfig
):
    # Cautious: a test runs only when every model it reads is selected (materialising a seed alone
    # must not run a relationship test of a silver model that may not exist yet).
    args = ["build", "--indirect-selection", "cautious"]
    if config.full_refresh or not config.only_what_changed:
        full_refresh = ["--full-refresh"] if config.full_refresh else []
        invocation = dbt.cli([*args, *full_refresh], context=context, raise_on_error=False)
        yield from with_row_counts(invocation, spark)
        record_dbt_run(spark.session(), invocation.target_path, via="dagster")
        error = invocation.get_error()
        if error is not None:
            raise error
        return
    plan = plan_build(spark.session())
    if plan.nothing_to_do:
        context.log.info(f"dbt build: {plan.why}")
        return
    nodes = _DbtGraph(json.loads(dbt_project.manifest_path.read_text()), context.selected_asset_keys)
    unchanged = nodes.not_reached_by(plan)
    context.log.info(f"dbt build: {plan.why}" + (f"; left out, unchanged: {len(unchanged)}" if unchanged else ""))
    invocation = dbt.cli(
        [*args, *(["--exclude", " ".join(unchanged)] if unchanged else [])], context=context, raise_on_error=False
    )
    yield from with_row_counts(invocation, spark)
    record_dbt_run(spark.session(), invocation.target_path, via="dagster")
    if invocation.process.returncode in COMPLETED:
        if nodes.everything_selected and not unchanged:
            record_build(plan, invocation.target_path)
        else:
            record_sources(plan, nodes.fully_selected_sources(plan.changed_sources))
    error = invocation.get_error()
    if error is not None:
        raise error


def with_row_counts(invocation: DbtCliInvocation, spark: SparkResource):
    """dbt's events as they come (the UI shows each model as soon as it is built), each table
    model's output with its row count, counted when its event arrives while dbt goes on (about 0.2 s
    a table here). dagster-dbt's `fetch_row_counts()` opened a Thrift session per model on the same
    cores: the dbt step took 159 s instead of 96 s."""
    manifest_nodes = invocation.manifest["nodes"]
    for event in invocation.stream():
        unique_id = event.metadata.get("unique_id") if isinstance(event, Output) else None
        node = manifest_nodes.get(unique_id.text) if unique_id is not None else None
        row_count = _row_count(spark, node["relation_name"]) if _is_table(node) else None
        yield event if row_count is None else event.with_metadata({**event.metadata, "dagster/row_count": row_count})


def _is_table(node: dict | None) -> bool:
    return node is not None and node["config"]["materialized"] != "view"


def _row_count(spark: SparkResource, relation: str) -> int | None:
    """Rows of a relation; none when it cannot be counted (its output then goes without)."""
    try:
        return spark.session().sql(f"select count(*) from {relation}").collect()[0][0]
    except PySparkException as error:
        log.warning("no row count for %s: %s", relation, str(error).splitlines()[0])
        return None


class _DbtGraph:
    """The manifest's models and seeds, and which of them a Dagster run selected."""

    def __init__(self, manifest: dict, selected_asset_keys: set[AssetKey]) -> None:
        self.nodes = {
            unique_id: node
            for unique_id, node in manifest["nodes"].items()
            if node["resource_type"] in ("model", "seed", "snapshot")
        }
        self.project = manifest["metadata"]["project_name"]
        self.children = manifest["child_map"]
        translator = LakehouseTranslator()
        self.selected = {
            uid
            for uid in self.nodes
            if translator.get_asset_spec(manifest, uid, dbt_project).key in selected_asset_keys
        }
        self.everything_selected = self.selected == set(self.nodes)

    def reached_from(self, sources: list[str]) -> set[str]:
        seen: set[str] = set()
        todo = [f"source.{self.project}.bronze.{source}" for source in sources]
        while todo:
            for child in self.children.get(todo.pop(), []):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen & set(self.nodes)

    def not_reached_by(self, plan: BuildPlan) -> list[str]:
        """The selected models and seeds none of the plan's new batches reach (when the plan is only
        new batches: a changed model or a failure is left to dbt's own state selection)."""
        if plan.selectors is None or len(plan.changed_sources) != len(plan.selectors):
            return []
        reached = self.reached_from(plan.changed_sources)
        return sorted(".".join(self.nodes[uid]["fqn"]) for uid in self.selected - reached)

    def fully_selected_sources(self, sources: list[str]) -> list[str]:
        return [source for source in sources if self.reached_from([source]) <= self.selected]
