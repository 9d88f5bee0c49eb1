"""Settings: the library's and the application's, each one typed object read from the environment
in one module; no other module reads a `LAKEHOUSE_*` variable."""

from __future__ import annotations

import ast
import base64
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


def test_cluster_mode_makes_each_credential_once_for_this_account_only(tmp_path, monkeypatch):
    from ingestion.config import library_settings_from_environment

    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    for name in ("LAKEHOUSE_SPARK_TOKEN", "LAKEHOUSE_POSTGRES_PASSWORD", "LAKEHOUSE_METASTORE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LAKEHOUSE_MODE", "local")
    local = library_settings_from_environment()
    assert (local["spark_token"], local["postgres_password"]) == ("", "")  # local mode: open doors
    assert not (tmp_path / "secrets").exists()

    monkeypatch.setenv("LAKEHOUSE_MODE", "cluster")
    first, again = library_settings_from_environment(), library_settings_from_environment()
    assert len(first["spark_token"]) >= 32 and len(first["postgres_password"]) >= 32
    assert first["spark_token"] != first["postgres_password"]
    assert (again["spark_token"], again["postgres_password"]) == (first["spark_token"], first["postgres_password"])
    assert first["metastore_password"] == first["postgres_password"]
    assert (tmp_path / "secrets" / "spark.token").read_text() == first["spark_token"]
    assert {path.name: path.stat().st_mode & 0o777 for path in (tmp_path / "secrets").iterdir()} == {
        "spark.token": 0o600,
        "postgres.password": 0o600,
    }
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700

    monkeypatch.setenv("LAKEHOUSE_SPARK_TOKEN", "from-the-environment")
    assert library_settings_from_environment()["spark_token"] == "from-the-environment"


def test_a_connect_url_carries_the_token_to_a_loopback_server_by_the_name_localhost():
    from ingestion.spark import with_token

    assert with_token("sc://127.0.0.1:15502", "") == "sc://127.0.0.1:15502"
    assert with_token("sc://127.0.0.1:15502", "t0k") == "sc://localhost:15502/;token=t0k"
    assert with_token("sc://spark.example:15002", "t0k") == "sc://spark.example:15002/;token=t0k"


def test_the_postgres_password_is_given_to_the_server_as_a_scram_verifier():
    from lakehouse.services.postgres import scram_verifier, verifier_matches

    # RFC 7677's example: user "user", password "pencil", this salt, 4096 iterations.
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    verifier = scram_verifier("pencil", 4096, salt)
    assert verifier == (
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
    )
    assert verifier_matches("pencil", scram_verifier("pencil"))
    assert not verifier_matches("pencil!", verifier)
    assert not verifier_matches("pencil", None)
