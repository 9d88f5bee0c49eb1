"""Who may read what, without any service: the users file, the roles' scopes, the personal columns
tagged in the dbt YAML, and the API's answers to missing, wrong and out-of-scope credentials (a
refusal is decided before any query, so no Spark server is needed to see it)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import warnings

import pytest

from ingestion.config import PROJECT_ROOT
from lakehouse.serving import access
from lakehouse.serving.access import Role, User

pytestmark = pytest.mark.fast


def _cli(*args: str, users_file, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "LAKEHOUSE_USERS_FILE": str(users_file)},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_secret_is_stored_hashed_and_checked(tmp_path):
    encoded = access.hash_secret("correct horse", iterations=1000)
    assert "correct horse" not in encoded and encoded.startswith("pbkdf2_sha256$1000$")
    assert access.secret_matches("correct horse", encoded)
    assert not access.secret_matches("correct horsf", encoded)
    assert not access.secret_matches("correct horse", "plain text")
    assert access.hash_secret("correct horse", 1000) != encoded  # salted


def test_users_are_added_listed_and_removed_from_the_command_line(tmp_path):
    users = tmp_path / "users"
    added = _cli(
        "users", "add", "vera", "--role", "viewer", "--password-stdin", users_file=users, stdin="s3cret-pass\n"
    )
    assert added.returncode == 0, added.stderr
    assert (
        _cli(
            "users", "add", "ana", "--role", "analyst", "--password-stdin", users_file=users, stdin="an4lyst-pass\n"
        ).returncode
        == 0
    )
    text = users.read_text()
    assert "s3cret-pass" not in text and "vera:viewer:pbkdf2_sha256$" in text
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    listed = _cli("users", "list", users_file=users)
    assert listed.stdout.splitlines()[:2] == ["ana\tanalyst", "vera\tviewer"]

    short = _cli("users", "add", "bob", "--role", "admin", "--password-stdin", users_file=users, stdin="short\n")
    assert short.returncode == 1 and short.stderr.startswith("error: the password has fewer than 8 characters")
    unknown = _cli("users", "remove", "bob", users_file=users)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert unknown.stderr.startswith(f"error: no user 'bob' in {users}")
    assert _cli("users", "remove", "vera", users_file=users).returncode == 0
    assert set(access.read_users(users)) == {"ana"}


def test_each_role_reads_its_layers():
    viewer, analyst, admin = (User(r.value, r) for r in Role)
    assert [access.may_read(u, "gold.fct_order_lines") for u in (viewer, analyst, admin)] == [True, True, True]
    assert [access.may_read(u, "silver.slv_web__requests") for u in (viewer, analyst, admin)] == [False, True, True]
    for table in ("bronze.ingestion_batches", "bronze.quarantine", "bronze.sales__all", "staging.stg_sales__sales"):
        assert [access.may_read(u, table) for u in (viewer, analyst, admin)] == [False, False, True], table
    assert access.refusal(viewer, "silver.slv_web__requests") == (
        "viewer (viewer) may not read silver.slv_web__requests: it needs analyst or admin"
    )


def test_personal_columns_are_the_ones_tagged_in_the_dbt_yaml():
    tagged = access.personal_columns()
    assert tagged["gold.dim_customers"] == {"customer_name"}
    assert tagged["gold.agg_spend_by_customer"] == {"customer_name"}
    assert tagged["silver.slv_web__requests"] == {"client_ip", "remote_user", "user_agent"}
    assert tagged["silver.slv_social__posts"] == {"author_handle"}
    assert tagged["silver.slv_quality__rejects"] == {"raw_record"}
    assert tagged["bronze.quarantine"] == {"raw"}
    assert "_raw" in tagged["bronze.server_logs"]


def test_a_masked_value_is_stable_keyed_and_hides_the_value(monkeypatch):
    from lakehouse.settings import settings

    first = access.masked("192.0.2.77")
    assert first == access.masked("192.0.2.77") and first.startswith("masked:") and "192.0.2" not in first
    assert access.masked("192.0.2.78") != first and access.masked(None) is None
    monkeypatch.setenv("LAKEHOUSE_MASKING_KEY", "another key")
    settings.cache_clear()
    try:
        assert access.masked("192.0.2.77") != first
    finally:
        monkeypatch.delenv("LAKEHOUSE_MASKING_KEY")
        settings.cache_clear()


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_the_api_refuses_missing_wrong_and_out_of_scope_credentials_with_one_line(tmp_path, monkeypatch):
    from lakehouse.serving import api
    from lakehouse.settings import settings

    users = tmp_path / "users"
    access.add_user("vera", "viewer", "s3cret-pass", users)
    access.add_user("ana", "analyst", "an4lyst-pass", users)
    monkeypatch.setenv("LAKEHOUSE_USERS_FILE", str(users))
    settings.cache_clear()
    monkeypatch.setattr(api, "_authenticator", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's note on its test client's HTTP library
        from fastapi.testclient import TestClient
    try:
        client = TestClient(api.create_app())
        missing = client.get("/gold/agg_sales_by_product")
        assert missing.status_code == 401
        assert missing.json() == {"error": "credentials required: HTTP Basic with a user of the lakehouse"}
        assert missing.headers["WWW-Authenticate"].startswith("Basic")
        wrong = client.get("/gold/agg_sales_by_product", headers=_basic("vera", "s3cret-pasS"))
        assert (wrong.status_code, wrong.json()) == (401, {"error": "wrong user name or password"})
        assert client.get("/metrics").status_code == 401
        assert client.get("/tables", headers=_basic("nobody", "s3cret-pass")).status_code == 401

        out_of_scope = client.get("/silver/requests", headers=_basic("vera", "s3cret-pass"))
        assert out_of_scope.status_code == 403
        assert out_of_scope.json() == {
            "error": "vera (viewer) may not read silver.slv_web__requests: it needs analyst or admin"
        }
        for path in ("/ledger", "/quarantine"):
            refused = client.get(path, headers=_basic("ana", "an4lyst-pass"))
            assert refused.status_code == 403 and "rows" not in refused.json(), path

        seen = client.get("/tables", headers=_basic("vera", "s3cret-pass")).json()
        assert seen and all(path.startswith("gold/") for path in seen)
        columns = {c["name"]: c["personal"] for c in seen["gold/agg_spend_by_customer"]["columns"]}
        assert columns["customer_name"] is True and columns["customer_id"] is False
        analyst = client.get("/tables", headers=_basic("ana", "an4lyst-pass")).json()
        assert "silver/requests" in analyst and "ledger" not in analyst
    finally:
        settings.cache_clear()
