"""The dbt models as Dagster assets: groups by layer, descriptions from the dbt docs, dbt tests as
asset checks. A dbt source's asset key is declared in the sources YAML (`meta.dagster.asset_key`)."""

from dagster import AssetExecutionContext, Config
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.transform.project import dbt_project
from orchestration.transform.translator import LakehouseTranslator


class DbtBuildConfig(Config):
    full_refresh: bool = False
    """Rebuild incremental models from scratch (after a rollback, or when their logic changed)."""


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=LakehouseTranslator(),
    pool="dbt",  # one dbt build at a time: two merges into the same Delta table would conflict
)
def lakehouse_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
    # Cautious: a test runs only when every model it reads is selected (materialising a seed alone
    # must not run a relationship test of a silver model that may not exist yet).
    args = ["build", "--indirect-selection", "cautious", *(["--full-refresh"] if config.full_refresh else [])]
    yield from dbt.cli(args, context=context).stream().fetch_row_counts()
