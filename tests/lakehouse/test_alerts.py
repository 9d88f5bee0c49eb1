"""Alerts on the built lakehouse, through `lakehouse alerts` (what the Dagster sensor runs every 30 s),
with a local HTTP receiver as the webhook: each condition is raised once, POSTed once, and resolved
when it clears. Every change made here is undone: the suites after this one find the lakehouse built."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ingestion.sources import SOURCES
from tests.lakehouse.conftest import HOME, built_cli
from tests.lakehouse.conftest import built_sql as _sql

pytestmark = pytest.mark.serving


class Receiver:
    """A webhook on 127.0.0.1 that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> list[tuple[str, str]]:
        """(status, alert key) of what arrived since the last take."""
        taken = [(body["status"], body["alert_key"]) for body in self.received]
        self.received.clear()
        return taken


@pytest.fixture(scope="module")
def receiver(built):
    webhook = Receiver()
    yield webhook
    webhook.server.shutdown()


def _check(receiver: Receiver, **env: str) -> list[tuple[str, str]]:
    """`lakehouse alerts` with every source fresh enough unless `env` says otherwise; what the webhook received."""
    fresh = {f"LAKEHOUSE_{name.upper()}_FRESHNESS_MINUTES": "1000000" for name in SOURCES}
    result = built_cli("alerts", **{**fresh, "LAKEHOUSE_ALERT_WEBHOOK": receiver.url, **env})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return receiver.take()


def _open(kind: str) -> list[tuple]:
    return _sql(f"select subject, batch_id, message from ops.alerts where kind = '{kind}' and resolved_at is null")


def test_a_stale_source_is_raised_once_and_resolved_when_fresh_again(receiver):
    _check(receiver)  # what was already wrong before this test is raised (and left) here
    stale = _check(receiver, LAKEHOUSE_SALES_FRESHNESS_MINUTES="0.01")
    assert stale == [("raised", "source_stale:sales")]
    ((subject, _, message),) = _open("source_stale")
    assert subject == "sales" and message.startswith("sales: no new batch for ") and "(its limit: 0.0 min)" in message
    assert _check(receiver, LAKEHOUSE_SALES_FRESHNESS_MINUTES="0.01") == []  # once, however long it lasts
    assert _check(receiver) == [("resolved", "source_stale:sales")]
    assert _open("source_stale") == []
    (resolved,) = _sql(
        "select count(*) from ops.alerts where alert_key = 'source_stale:sales' and resolved_at is not null"
    )
    assert resolved == (1,)


def test_a_failing_dbt_test_is_raised_and_resolved_when_it_passes_again(receiver):
    _check(receiver)
    ((version, *_),) = _sql("describe history silver.slv_water__sites limit 1")
    _sql("insert into silver.slv_water__sites select * from silver.slv_water__sites where site_id = 'S001'")
    try:
        failing = built_cli("dbt", "test", "--select", "slv_water__sites")
        assert failing.returncode == 1, failing.stdout[-3000:]
        raised = _check(receiver)
        assert ("raised", "test_failed:column_rules_slv_water__sites") in raised
        assert {status for status, _ in raised} == {"raised"} and all(
            key.startswith("test_failed:") for _, key in raised
        )
        subjects = {subject for subject, _, _ in _open("test_failed")}
        assert "column_rules_slv_water__sites" in subjects
    finally:
        _sql(f"restore table silver.slv_water__sites to version as of {version}")
    passing = built_cli("dbt", "test", "--select", "slv_water__sites")
    assert passing.returncode == 0, passing.stdout[-3000:]
    resolved = _check(receiver)
    assert sorted(resolved) == sorted(("resolved", key) for _, key in raised)
    assert not {subject for subject, _, _ in _open("test_failed")} & {key.split(":", 1)[1] for _, key in raised}


def test_a_build_twice_as_slow_as_its_median_is_raised(receiver):
    _check(receiver)
    selection = f"test-selection-{uuid.uuid4().hex[:8]}"
    rows = ", ".join(
        f"('{selection}-{n}', current_timestamp() - make_dt_interval(0, 0, {10 - n}, 0), 'tests', 'build', "
        f"'{selection}', {seconds}, 1, 0, 1, 0, 0)"
        for n, seconds in enumerate([10.0, 11.0, 9.0, 31.0])
    )
    _sql(f"insert into ops.dbt_builds values {rows}")
    try:
        assert _check(receiver) == [("raised", f"build_slow:{selection}")]
        ((_, _, message),) = [row for row in _open("build_slow") if row[0] == selection]
        assert message == f"dbt build of {selection} took 31s, over twice the median of the last 3 (10s)"
        _sql(
            f"insert into ops.dbt_builds values ('{selection}-4', current_timestamp(), 'tests', 'build', '{selection}', 12.0, 1, 0, 1, 0, 0)"
        )
        assert _check(receiver) == [("resolved", f"build_slow:{selection}")]
    finally:
        _sql(f"delete from ops.dbt_builds where selection = '{selection}'")


def test_a_batch_with_too_many_bad_records_is_raised_and_resolved_by_its_rollback(receiver):
    landing = HOME / "landing" / "transactions"
    header = "transaction_id,customer_id,product_id,quantity,unit_price,currency,transaction_timestamp,country"
    good = [f"ALERT{n},C0001,101,1,2.50,EUR,2026-11-02T10:00:00Z,France" for n in range(30)]
    clean, bad = landing / "alerts_clean.csv", landing / "alerts_bad.csv"
    try:
        clean.write_text("\n".join([header, *good]) + "\n")
        assert built_cli("ingest", "transactions").returncode == 0
        _check(receiver)
        assert "transactions" not in {subject for subject, _, _ in _open("bad_batch")}
        # 3 bad of 23: over the alert's 5 %, under the 20 % that would quarantine the batch whole
        rows = [f"ALERTB{n},C0001,101,1,2.50,EUR,2026-11-02T10:00:00Z,France" for n in range(20)]
        rows += [f"ALERTX{n},C0001,101,abc,2.50,EUR,2026-11-02T10:00:00Z,France" for n in range(3)]
        bad.write_text("\n".join([header, *rows]) + "\n")
        assert built_cli("ingest", "transactions").returncode == 0
        assert _check(receiver) == [("raised", "bad_batch:transactions")]
        ((_, batch_id, message),) = [row for row in _open("bad_batch") if row[0] == "transactions"]
        assert message == f"transactions: batch {batch_id} landed with 3 bad records of 23 (13.0%; the limit is 5%)"
        assert built_cli("rollback", "transactions", batch_id).returncode == 0
        assert _check(receiver) == [("resolved", "bad_batch:transactions")]
    finally:
        for path in (clean, bad):
            path.unlink(missing_ok=True)
        for (batch_id,) in _sql(
            "select batch_id from bronze.ingestion_batches where file_name like 'alerts_%' and status = 'committed'"
        ):
            assert built_cli("rollback", "transactions", batch_id).returncode == 0
        build = built_cli("build")  # the suites after this one find gold built from what they expect
        assert build.returncode == 0, build.stdout[-3000:]
