"""Settings: the library's and the application's, each one typed object read from the environment
in one module; no other module reads a `LAKEHOUSE_*` variable."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from ingestion.config import PROJECT_ROOT

pytestmark = pytest.mark.fast

SETTINGS_MODULES = {"ingestion/config.py", "lakehouse/settings.py"}


def _reads_of_the_environment(path) -> list[int]:
    """Lines where a module reads `os.environ` or `os.getenv` with a LAKEHOUSE_ name."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call | ast.Subscript):
            text = ast.unparse(node)
            if ("os.environ" in text or "getenv" in text) and "LAKEHOUSE_" in text:
                lines.append(node.lineno)
    return lines


def test_only_the_two_settings_modules_read_lakehouse_variables():
    readers = {}
    for package in ("ingestion", "lakehouse", "orchestration"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            name = str(path.relative_to(PROJECT_ROOT))
            if name not in SETTINGS_MODULES and _reads_of_the_environment(path):
                readers[name] = _reads_of_the_environment(path)
    assert readers == {}


def test_the_application_settings_extend_the_library_settings_read_from_the_same_environment():
    probe = (
        "from dataclasses import fields\n"
        "from ingestion.config import settings as library\n"
        "from lakehouse.settings import settings as application\n"
        "shared = [f.name for f in fields(library())]\n"
        "print(all(getattr(library(), n) == getattr(application(), n) for n in shared), len(shared),\n"
        "      application().kafka_bootstrap, application().api_port, library().ingest_batch_rows)\n"
    )
    env = {
        **os.environ,
        "LAKEHOUSE_KAFKA_PORT": "9500",
        "LAKEHOUSE_API_PORT": "8123",
        "LAKEHOUSE_INGEST_BATCH_ROWS": "77",
    }
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    equal, shared, bootstrap, api_port, batch_rows = result.stdout.split()
    assert (equal, bootstrap, api_port, batch_rows) == ("True", "127.0.0.1:9500", "8123", "77")
    assert int(shared) > 20


def test_a_setting_that_is_not_a_number_is_one_line_naming_it():
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "status"],
        env={**os.environ, "LAKEHOUSE_API_PORT": "eighty"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode != 0
    assert "LAKEHOUSE_API_PORT='eighty' is not an integer" in result.stderr
    assert "Traceback" not in result.stderr
