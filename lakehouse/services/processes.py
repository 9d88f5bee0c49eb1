"""Long-running programs the CLI starts (the Dagster UI and daemon, the dashboard), stopped whole.

Ctrl-C in a terminal signals its whole process group at once: `dagster dev` and each of its
children (webserver, daemon, code servers) then began their own shutdowns in parallel, and several
waited for one another for minutes, deaf to SIGTERM. Here the program runs in a process group of
its own; on Ctrl-C or SIGTERM its leader is asked to stop (SIGINT, as a terminal would), the group
gets `grace_s` seconds to go, then whatever is left of it is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

STOP_GRACE_S = 15.0


def run_in_own_group(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, grace_s: float = STOP_GRACE_S
) -> int:
    """Run `argv` until it ends, or until Ctrl-C/SIGTERM stops it and all it started; its exit code
    (130 when stopped)."""
    process = subprocess.Popen(list(argv), cwd=cwd, env=None if env is None else dict(env), start_new_session=True)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        return process.wait()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: the stop is already bounded
        stop_group(process, grace_s)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def stop_group(process: subprocess.Popen, grace_s: float) -> None:
    """SIGINT to the group's leader, up to `grace_s` seconds for the whole group, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _group_alive(process):
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _group_alive(process: subprocess.Popen) -> bool:
    process.poll()  # reaps the leader once it has exited, so that only live members count
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True
