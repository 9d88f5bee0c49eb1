"""The dbt project, loaded once. Its manifest is prepared at build time (`make manifest`, or by
`dagster dev` through `prepare_if_dev`), never parsed when the code location is imported."""

from dagster_dbt import DbtProject

from ingestion.config import PROJECT_ROOT
from lakehouse.settings import settings

dbt_project = DbtProject(project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT, target=settings().dbt_target)
dbt_project.prepare_if_dev()
