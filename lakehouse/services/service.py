"""A long-lived local service with a pid file, a log file and ports to wait on.

Kafka, the Spark server and PostgreSQL differ only in how they are prepared and launched;
starting, stopping, status, stale pid files and taken ports are handled here once.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import psutil

from ingestion.errors import LakehouseError
from ingestion.network import Port, port_answers
from lakehouse.settings import AppSettings

MIN_JAVA = 17


@dataclass(frozen=True)
class Status:
    name: str
    running: bool
    pid: int | None
    detail: str

    def __str__(self) -> str:
        state = f"running (pid {self.pid})" if self.running else "stopped"
        return f"{self.name}: {state}{' — ' + self.detail if self.detail else ''}"


def java_executable() -> str:
    """The `java` to run services with (JAVA_HOME first, then PATH), checked to be 17 or newer."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise LakehouseError(
            "Java was not found (no JAVA_HOME and no `java` on PATH)",
            hint=f"install a Java {MIN_JAVA}+ runtime, e.g. apt-get install openjdk-17-jre-headless",
        )
    try:
        probe = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except OSError as error:
        raise LakehouseError(f"could not run {java}: {error}", hint="check JAVA_HOME") from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr + probe.stdout)
    if not match:
        raise LakehouseError(f"could not read the Java version from `{java} -version`")
    major = int(match.group(1))
    if major == 1:  # "1.8.0_392" style
        major = int(match.group(2) or 0)
    if major < MIN_JAVA:
        raise LakehouseError(
            f"Java {major} found at {java}, but Kafka 4 and Spark 4 need Java {MIN_JAVA} or newer",
            hint=f"install Java {MIN_JAVA}+ and point JAVA_HOME at it",
        )
    return java


class Service(ABC):
    name: str
    marker: str
    """Identifies this service's process: its command line holds `lakehouse.service=<marker>`
    (a JVM system property, or a PostgreSQL custom setting)."""
    runs_on_java = True
    stop_signal = signal.SIGTERM

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings

    # -- what each service says about itself ---------------------------------------------
    @abstractmethod
    def ports(self) -> list[Port]: ...

    @abstractmethod
    def prepare(self) -> None:
        """Fetch jars, write configuration, format storage: whatever must exist before launch."""

    @abstractmethod
    def command(self, java: str) -> tuple[list[str], dict[str, str]]:
        """The command line and extra environment that launch the service in the foreground
        (`java` is empty for a service that does not run on Java)."""

    def is_ready(self) -> bool:
        return all(port_answers(port) for port in self.ports())

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.settings.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.settings.logs_dir / f"{self.name}.log"

    def _process(self) -> psutil.Process | None:
        """Our running process, or None; removes a pid file left by a process that died."""
        if not self.pid_file.exists():
            return None
        try:
            pid = int(self.pid_file.read_text().strip())
        except ValueError:
            pid = -1
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE and self._owns(process):
                return process
        except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
            pass
        print(
            f"{self.name}: removing stale pid file {self.pid_file} (process {pid} is not running; "
            f"the last run probably crashed, see {self.log_file})",
            flush=True,
        )
        self.pid_file.unlink(missing_ok=True)
        return None

    def _owns(self, process: psutil.Process) -> bool:
        return f"lakehouse.service={self.marker}" in " ".join(process.cmdline())

    def status(self) -> Status:
        process = self._process()
        if process is None:
            return Status(self.name, False, None, "")
        ports = ", ".join(
            f"{port.name} {port.host}:{port.number}{'' if port_answers(port) else ' (not answering)'}"
            for port in self.ports()
        )
        return Status(self.name, True, process.pid, ports)

    def start(self) -> Status:
        running = self._process()
        if running is not None:
            print(f"{self.name}: already running (pid {running.pid})", flush=True)
            return self.status()
        java = java_executable() if self.runs_on_java else ""
        for port in self.ports():
            if port_answers(port, timeout=0.5):
                raise LakehouseError(
                    f"cannot start {self.name}: {port.name} port {port.host}:{port.number} "
                    "is already taken by another program",
                    hint=f"stop that program (see `ss -ltnp 'sport = :{port.number}'`) or choose "
                    "another port with the matching LAKEHOUSE_*_PORT variable",
                )
        for folder in (self.settings.run_dir, self.settings.logs_dir, self.settings.tmp_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.prepare()
        argv, extra_env = self.command(java)
        env = {**os.environ, **extra_env}
        if java:
            env["JAVA_HOME"] = str(Path(java).resolve().parent.parent)
        with self.log_file.open("ab") as log:
            log.write(f"\n--- starting {self.name} at {time.ctime()} ---\n".encode())
            log.flush()
            process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.settings.home,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        print(f"{self.name}: starting (pid {process.pid}), log: {self.log_file}", flush=True)
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise LakehouseError(
                    f"{self.name} exited with code {process.returncode} while starting; "
                    f"last lines of {self.log_file}:\n{_tail(self.log_file)}",
                    hint="fix the cause shown in the log and start again",
                )
            if self.is_ready():
                status = self.status()
                print(f"{status}", flush=True)
                return status
            time.sleep(1)
        self.stop()
        raise LakehouseError(
            f"{self.name} did not answer within {self.settings.start_timeout_s}s; "
            f"last lines of {self.log_file}:\n{_tail(self.log_file)}",
            hint="raise LAKEHOUSE_START_TIMEOUT on a slow machine, or read the log",
        )

    def stop(self, timeout_s: float = 60) -> None:
        process = self._process()
        if process is None:
            print(f"{self.name}: not running", flush=True)
            return
        print(f"{self.name}: stopping (pid {process.pid})", flush=True)
        _signal_group(process.pid, self.stop_signal)
        if not _wait_gone(process, timeout_s):
            print(f"{self.name}: did not stop in {timeout_s:.0f}s, killing it", flush=True)
            _signal_group(process.pid, signal.SIGKILL)
            _wait_gone(process, 30)
        self.pid_file.unlink(missing_ok=True)
        print(f"{self.name}: stopped", flush=True)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _wait_gone(process: psutil.Process, timeout_s: float) -> bool:
    """Wait until the process has exited (a zombie left to its parent counts as exited)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
