from dagster import AssetSelection, Definitions, define_asset_job

from orchestration.bronze.assets import bronze_assets, landing_specs
from orchestration.bronze.resources import spark_resource
from orchestration.bronze.sensors import sensors

ingest_everything = define_asset_job(
    "ingest_everything", selection=AssetSelection.groups("bronze"), description="Every source into bronze."
)

defs = Definitions(
    assets=[*landing_specs, *bronze_assets],
    jobs=[ingest_everything],
    sensors=sensors,
    resources={"spark": spark_resource()},
)
