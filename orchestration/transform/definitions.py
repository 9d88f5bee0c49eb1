from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    define_asset_job,
)

from orchestration.bronze.resources import spark_resource
from orchestration.transform.assets import lakehouse_dbt_models
from orchestration.transform.resources import dbt_resource

DBT_MODELS = AssetSelection.assets(lakehouse_dbt_models)

transform_everything = define_asset_job(
    "transform_everything", selection=DBT_MODELS, description="dbt build: seeds, staging, silver, gold and their tests."
)
full_refresh = define_asset_job(
    "full_refresh",
    selection=DBT_MODELS,
    config={"ops": {lakehouse_dbt_models.op.name: {"config": {"full_refresh": True}}}},
    description="dbt build --full-refresh: incremental models rebuilt from bronze.",
)
silver_and_gold_follow_bronze = AutomationConditionSensorDefinition(
    "silver_and_gold_follow_bronze",
    target=DBT_MODELS,
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
)

defs = Definitions(
    assets=[lakehouse_dbt_models],
    jobs=[transform_everything, full_refresh],
    sensors=[silver_and_gold_follow_bronze],
    resources={"dbt": dbt_resource(), "spark": spark_resource()},
)
