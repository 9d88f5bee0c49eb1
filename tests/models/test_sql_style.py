"""The dbt SQL passes sqlfluff (dbt templater, sparksql dialect), as `make lint` checks it."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT


def test_models_and_singular_tests_pass_sqlfluff(spark_server):
    sqlfluff = str(Path(sys.executable).parent / "sqlfluff")
    result = subprocess.run(
        [sqlfluff, "lint", "models", "tests/dbt", "--nofail", "--format", "github-annotation-native"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    problems = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert result.returncode == 0, result.stderr[-3000:]
    assert problems == []
