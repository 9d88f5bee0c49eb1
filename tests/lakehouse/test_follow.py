"""`lakehouse ingest --follow` keeps bronze up to date until Ctrl-C, exactly once, a line per batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from lakehouse.producer import produce
from tests.conftest import PROJECT_ROOT, rows


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
    return rows(spark, f"select count(*) from bronze.device_events where device_id like '{prefix}-%'")[0][0]


def _wait_until(condition, bound_s: float = 300) -> None:
    deadline = time.monotonic() + bound_s
    while not condition():
        assert time.monotonic() < deadline, "not within the bound"
        time.sleep(1)


def test_follow_ingests_what_arrives_until_ctrl_c(kafka, spark):
    follower = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "ingest", "device_events", "--follow", "--interval", "1"],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        produce("device_events", _events("FOLLOW", 40), progress=False)
        _wait_until(lambda: _held(spark, "FOLLOW") == 40)
        produce("device_events", _events("FOLLOW", 60)[40:], progress=False)  # 20 more, new ids
        _wait_until(lambda: _held(spark, "FOLLOW") == 60)
        follower.send_signal(signal.SIGINT)
        output, _ = follower.communicate(timeout=120)
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
