"""The Dagster code location needs the dbt manifest, prepared once as at build time."""

import pytest

from tests.conftest import dbt_cli


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> None:
    # Written where DbtProject reads it (target/), whatever DBT_TARGET_PATH the other tests use.
    result = dbt_cli("parse", "--target", "local", "--target-path", "target")
    assert result.returncode == 0, result.stdout[-3000:]
