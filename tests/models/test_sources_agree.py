"""The sources are described in two places, the ingestion declarations and the dbt sources YAML
(with `meta`: Dagster asset key, staging and silver model, key): they must agree."""

import json

import pytest

from ingestion.sources import SOURCES
from ingestion.tables import bronze_columns
from orchestration.bronze.assets import bronze_key
from orchestration.transform.project import dbt_project

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(dbt_project.manifest_path.read_text())


def _dbt_sources(manifest: dict) -> dict[str, dict]:
    return {s["name"]: s for s in manifest["sources"].values() if s["source_name"] == "bronze"}


def _model(manifest: dict, name: str) -> dict:
    return manifest["nodes"][f"model.lakehouse.{name}"]


def test_every_declared_source_is_a_dbt_source_with_the_same_columns(manifest):
    dbt_sources = _dbt_sources(manifest)
    assert set(dbt_sources) == set(SOURCES)
    for name, source in SOURCES.items():
        assert list(dbt_sources[name]["columns"]) == [column for column, _ in bronze_columns(source)], name
        assert dbt_sources[name]["identifier"] == source.table.split(".")[1]


def test_the_meta_names_the_asset_the_models_and_the_key(manifest):
    for name, dbt_source in _dbt_sources(manifest).items():
        meta = dbt_source["meta"]
        assert meta["dagster"]["asset_key"] == list(bronze_key(SOURCES[name]).path)
        readers = [
            node["name"]
            for node in manifest["nodes"].values()
            if node["resource_type"] == "model" and dbt_source["unique_id"] in node["depends_on"]["nodes"]
        ]
        assert readers == [meta["staging_model"]], "only the staging model reads a source"
        assert meta["staging_model"].startswith(f"stg_{name}__")
        silver = _model(manifest, meta["silver_model"])
        assert f"model.lakehouse.{meta['staging_model']}" in silver["depends_on"]["nodes"]
        assert meta["key"] in silver["columns"]


def test_the_rejects_model_reads_every_source_of_the_meta(manifest):
    expected = {
        f"model.lakehouse.{s['meta'][role]}"
        for s in _dbt_sources(manifest).values()
        for role in ("staging_model", "silver_model")
    }
    assert set(_model(manifest, "slv_quality__rejects")["depends_on"]["nodes"]) == expected
