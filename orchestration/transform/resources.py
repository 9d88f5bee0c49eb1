"""The dbt CLI, with the project's target (LAKEHOUSE_DBT_TARGET)."""

from dagster_dbt import DbtCliResource

from lakehouse.build.dbt import dbt_executable
from orchestration.transform.project import dbt_project


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable(), target=dbt_project.target)
