"""How dbt nodes become Dagster assets: groups by layer, descriptions from the dbt docs, automation.
A source's asset key is declared in the sources YAML (`meta.dagster.asset_key`), which the default
translator reads."""

from collections.abc import Mapping
from typing import Any

from dagster import AutomationCondition
from dagster_dbt import DagsterDbtTranslator

from orchestration.transform.automation import follows_its_inputs


class LakehouseTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        if dbt_resource_props["resource_type"] == "source":
            return "bronze"
        return dbt_resource_props["fqn"][1]  # the layer folder: staging, silver or gold

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return dbt_resource_props.get("description") or super().get_description(dbt_resource_props)

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> AutomationCondition | None:
        return follows_its_inputs()
