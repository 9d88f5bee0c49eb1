"""Expected failures end with a clear message, a hint and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import lakehouse_cli


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _isolated(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A data home and ports of its own, so nothing collides with the session's services."""
    return {
        "LAKEHOUSE_HOME": str(tmp_path / "home"),
        "LAKEHOUSE_KAFKA_PORT": str(_free_port()),
        "LAKEHOUSE_KAFKA_CONTROLLER_PORT": str(_free_port()),
        **extra,
    }


def _assert_clean_failure(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "hint:" in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


@pytest.mark.fast
def test_java_missing(tmp_path):
    env = _isolated(tmp_path, PATH=str(tmp_path / "empty-bin"), JAVA_HOME="")
    result = lakehouse_cli("kafka", "start", env=env)
    _assert_clean_failure(result, "Java was not found", "Java 17+")


@pytest.mark.fast
def test_java_older_than_17(tmp_path):
    java_home = tmp_path / "jdk11"
    (java_home / "bin").mkdir(parents=True)
    java = java_home / "bin" / "java"
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    result = lakehouse_cli("spark", "start", env=_isolated(tmp_path, JAVA_HOME=str(java_home)))
    _assert_clean_failure(result, "Java 11 found", "need Java 17 or newer")


@pytest.mark.fast
def test_port_taken_by_another_program(tmp_path):
    env = _isolated(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["LAKEHOUSE_KAFKA_PORT"])))
        squatter.listen()
        result = lakehouse_cli("kafka", "start", env=env)
    _assert_clean_failure(result, f"broker port 127.0.0.1:{env['LAKEHOUSE_KAFKA_PORT']} is already taken", "LAKEHOUSE_")
    assert not (tmp_path / "home" / "run" / "kafka.pid").exists()


@pytest.mark.fast
def test_jars_missing_and_maven_central_unreachable(tmp_path):
    env = _isolated(
        tmp_path,
        LAKEHOUSE_CACHE=str(tmp_path / "empty-cache"),
        LAKEHOUSE_MAVEN_MIRROR=f"http://127.0.0.1:{_free_port()}/maven2",
    )
    result = lakehouse_cli("jars", env=env)
    _assert_clean_failure(result, "could not download the kafka jars", "unreachable", "LAKEHOUSE_MAVEN_MIRROR")


def test_start_over_a_stale_pid_file_recovers(tmp_path):
    env = _isolated(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_dir = tmp_path / "home" / "run"
    run_dir.mkdir(parents=True)
    (run_dir / "kafka.pid").write_text(str(dead.pid))

    started = lakehouse_cli("kafka", "start", env=env)
    try:
        assert started.returncode == 0, started.stderr
        assert f"removing stale pid file {run_dir / 'kafka.pid'} (process {dead.pid} is not running" in started.stdout
        pid = int((run_dir / "kafka.pid").read_text())
        assert pid != dead.pid
        os.kill(pid, 0)  # the new broker is alive
        assert "kafka: running" in lakehouse_cli("kafka", "status", env=env).stdout
    finally:
        lakehouse_cli("kafka", "stop", env=env)
    assert not (run_dir / "kafka.pid").exists()


@pytest.mark.fast
def test_unknown_source_names_the_known_ones(tmp_path):
    # Checked before any service is reached: no server runs in this data home.
    for command in (["batches", "nosuch"], ["rollback", "nosuch", "nosuch-000001"], ["replay", "nosuch", "x"]):
        result = lakehouse_cli(*command, env=_isolated(tmp_path))
        _assert_clean_failure(result, "unknown source 'nosuch'", "transactions")


@pytest.mark.fast
def test_a_setting_that_is_not_a_number(tmp_path):
    result = lakehouse_cli("ingest", env=_isolated(tmp_path, LAKEHOUSE_INGEST_BATCH_ROWS="many"))
    _assert_clean_failure(result, "LAKEHOUSE_INGEST_BATCH_ROWS='many' is not an integer")


@pytest.mark.fast
def test_kafka_commands_with_an_external_cluster_and_in_cluster_mode(tmp_path):
    external = lakehouse_cli(
        "kafka", "status", env=_isolated(tmp_path, LAKEHOUSE_KAFKA_BOOTSTRAP="kafka-1.example:9092")
    )
    _assert_clean_failure(
        external, "Kafka is not run by the lakehouse here: LAKEHOUSE_KAFKA_BOOTSTRAP names kafka-1.example:9092"
    )

    cluster = lakehouse_cli("kafka", "status", env=_isolated(tmp_path, LAKEHOUSE_MODE="cluster"))
    assert cluster.returncode == 0, cluster.stderr
    assert [line.split(":")[0] for line in cluster.stdout.splitlines()] == ["kafka-1", "kafka-2", "kafka-3"]


@pytest.mark.fast
def test_another_librarys_error_is_one_line_without_its_traceback():
    """As kafka-python logs a lost broker: the user reads one line, named, not a traceback."""
    script = (
        "import logging\n"
        "from lakehouse.cli import configure_logging\n"
        "configure_logging()\n"
        "try:\n"
        "    raise ConnectionError('[Errno 111] Connection refused')\n"
        "except ConnectionError:\n"
        "    logging.getLogger('kafka.conn').exception('<BrokerConnection node_id=2> connect failed')\n"
        "logging.getLogger('kafka.coordinator').info('heartbeat sent')\n"
        "logging.getLogger('ingestion.topics').info('sales: batch sales-000003 committed')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines() == [
        "kafka.conn error: <BrokerConnection node_id=2> connect failed (ConnectionError: [Errno 111] Connection refused)",
        "sales: batch sales-000003 committed",
    ]
    assert result.stderr == ""


@pytest.mark.fast
def test_clean_wipes_the_data_home_and_its_build_record_but_keeps_the_jars(tmp_path):
    """So the next `lakehouse build` builds everything, seeds included, into the fresh warehouse."""
    home = tmp_path / "home"
    env = _isolated(tmp_path, LAKEHOUSE_CACHE=str(home / "cache"))
    for kept_or_not in (
        "cache/jars/a.jar",
        "dbt/last_build/manifest.json",
        "warehouse/gold/x.parquet",
        "landing/t/f.csv",
    ):
        (home / kept_or_not).parent.mkdir(parents=True, exist_ok=True)
        (home / kept_or_not).write_text("x")

    result = lakehouse_cli("clean", env=env)

    assert result.returncode == 0, result.stderr
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()) == ["cache/jars/a.jar"]
    assert "kept the jar cache" in result.stdout
