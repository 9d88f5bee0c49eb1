from dagster import AssetSelection, AutomationConditionSensorDefinition, DefaultSensorStatus, Definitions

from lakehouse.settings import settings
from orchestration.serving.assets import postgres_gold
from orchestration.serving.resources import postgres_resource

published_follows_gold = AutomationConditionSensorDefinition(
    "published_follows_gold",
    target=AssetSelection.assets(postgres_gold),
    default_status=DefaultSensorStatus.RUNNING if settings().publish_after_build else DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=30,
)

defs = Definitions(
    assets=[postgres_gold], sensors=[published_follows_gold], resources={"postgres": postgres_resource()}
)
