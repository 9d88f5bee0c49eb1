"""What every benchmark shares: its own data home and ports (`.lakehouse/bench`, ports + 200),
dbt artifacts kept there, and a few helpers. Import it before anything reads a setting."""

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from lakehouse.settings import side_by_side_environment  # noqa: E402  (reads no setting yet)

BENCH_ENV = side_by_side_environment("bench")
os.environ.update(BENCH_ENV)
os.environ.setdefault("LAKEHOUSE_CACHE", str(ROOT / ".lakehouse" / "cache"))
HOME = Path(BENCH_ENV["LAKEHOUSE_HOME"])
DBT_TARGET = HOME / "dbt" / "target"
os.environ["DBT_TARGET_PATH"] = str(DBT_TARGET)
os.environ["DBT_LOG_PATH"] = str(HOME / "dbt" / "logs")

CLI = [sys.executable, "-m", "lakehouse.cli"]


def timed(argv: list[str]) -> float:
    """Seconds `argv` took; its output is shown only when it fails."""
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"`{' '.join(argv)[:200]}` failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return time.perf_counter() - started


def fresh_home() -> None:
    """Services stopped, the bench data home wiped, services started again."""
    subprocess.run([*CLI, "down"], cwd=ROOT, stdout=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", str(HOME)], check=True)
    timed([*CLI, "up"])


def stop_services() -> None:
    subprocess.run([*CLI, "down"], cwd=ROOT, stdout=subprocess.DEVNULL)


def peak_mib(pid: int) -> int:
    """Peak resident memory of a process since it started (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    peaks = [int(line.split()[1]) >> 10 for line in status.splitlines() if line.startswith("VmHWM:")]
    return peaks[0] if peaks else 0  # a zombie has no memory left to report


def service_memory() -> dict[str, tuple[int, int]]:
    """Per running service of the bench data home: (resident MiB now, peak MiB), its child
    processes included (a Spark worker's executor, PostgreSQL's backends)."""
    figures = {}
    for pid_file in sorted((HOME / "run").glob("*.pid")):
        try:
            process = psutil.Process(int(pid_file.read_text()))
            family = [process, *process.children(recursive=True)]
            figures[pid_file.stem] = (
                sum(p.memory_info().rss for p in family) >> 20,
                sum(peak_mib(p.pid) for p in family),
            )
        except (psutil.NoSuchProcess, ValueError, FileNotFoundError):
            continue
    return figures
