"""`lakehouse ingest --follow` keeps bronze up to date until Ctrl-C, exactly once, a line per batch,
and goes on across a restart of the Spark server and of the Kafka broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from pyspark.errors import PySparkException

from ingestion.spark import connect
from lakehouse.samples.producer import produce
from tests.conftest import PROJECT_ROOT, lakehouse_cli, rows


def _events(prefix: str, count: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "device_id": f"{prefix}-{n}",
                "device_type": "meter",
                "event_type": "consumption",
                "value": n,
                "event_at": f"2031-02-01T10:{n // 60:02d}:{n % 60:02d}Z",
            }  # fmt: skip
        ).encode()
        for n in range(count)
    ]


def _held(spark, prefix: str) -> int:
    if not spark.catalog.tableExists("bronze.device_events"):  # before the first batch
        return 0
    return rows(spark, f"select count(*) from bronze.device_events where device_id like '{prefix}-%'")[0][0]


def _wait_until(condition, bound_s: float = 300) -> None:
    deadline = time.monotonic() + bound_s
    while not condition():
        assert time.monotonic() < deadline, "not within the bound"
        time.sleep(1)


def _follow_device_events() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "ingest", "device_events", "--follow", "--interval", "1"],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_follow_ingests_what_arrives_until_ctrl_c(kafka, spark):
    follower = _follow_device_events()
    try:
        produce("device_events", _events("FOLLOW", 40), progress=False)
        _wait_until(lambda: _held(spark, "FOLLOW") == 40)
        produce("device_events", _events("FOLLOW", 60)[40:], progress=False)  # 20 more, new ids
        _wait_until(lambda: _held(spark, "FOLLOW") == 60)
        follower.send_signal(signal.SIGINT)
        output, _ = follower.communicate(timeout=20)  # it stops after the batch being written
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, output
    assert "stopping after the current batch" in output and output.rstrip().endswith("stopped")
    assert "Traceback" not in output
    progress = [line for line in output.splitlines() if line.startswith("device_events: batch device_events-")]
    assert len(progress) >= 2, output  # one line per batch, and at least one batch per delivery
    # Exactly once: every message one row, however many rounds passed.
    assert rows(
        spark,
        "select count(*), count(distinct _kafka_partition, _kafka_offset) from bronze.device_events "
        "where device_id like 'FOLLOW-%'",
    ) == [(60, 60)]


def _held_now(prefix: str) -> int:
    """As `_held`, on a session of the server running now (a restart ends the sessions of before)."""
    try:
        return _held(connect(), prefix)
    except PySparkException:
        return _held(connect(), prefix)


def test_follow_goes_on_across_a_restart_of_the_spark_server_and_of_the_broker(kafka, spark_server):
    follower = _follow_device_events()
    events = _events("RESTART", 90)
    try:
        produce("device_events", events[:30], progress=False)
        _wait_until(lambda: _held_now("RESTART") == 30)
        for service in ("spark", "kafka"):
            for step in ("stop", "start"):
                done = lakehouse_cli(service, step)
                assert done.returncode == 0, done.stdout + done.stderr
            delivered = 60 if service == "spark" else 90
            produce("device_events", events[delivered - 30 : delivered], progress=False)
            _wait_until(lambda n=delivered: _held_now("RESTART") == n)
        assert follower.poll() is None  # still following
        follower.send_signal(signal.SIGINT)
        output, _ = follower.communicate(timeout=120)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, output
    assert "Traceback" not in output, output
    assert rows(
        connect(),
        "select count(*), count(distinct _kafka_partition, _kafka_offset) from bronze.device_events "
        "where device_id like 'RESTART-%'",
    ) == [(90, 90)]
