"""Local mode against cluster mode on the same sample data: prints figures, asserts nothing.

For local mode, cluster mode with one worker and cluster mode with two (LAKEHOUSE_MODE=cluster,
LAKEHOUSE_SPARK_WORKERS), each on a fresh data home: `lakehouse up`, the same sample data
(`lakehouse generate`), then the wall time of `lakehouse ingest` and of `lakehouse build`, and the
memory of every process of the mode after the build (resident now and peak; a worker's line
includes the executor it started).

    make bench-cluster                            # 1,500 records per source
    .venv/bin/python benchmarks/cluster_mode.py --rows 20000
    .venv/bin/python benchmarks/cluster_mode.py --modes "cluster, 2 workers"

It runs against its own data home (.lakehouse/bench) and ports, started and stopped here.
"""

from __future__ import annotations

import argparse
import os

from bench_env import CLI, HOME, service_memory, stop_services, timed

MODES = {
    "local": {"LAKEHOUSE_MODE": "local"},
    "cluster, 1 worker": {"LAKEHOUSE_MODE": "cluster", "LAKEHOUSE_SPARK_WORKERS": "1"},
    "cluster, 2 workers": {"LAKEHOUSE_MODE": "cluster", "LAKEHOUSE_SPARK_WORKERS": "2"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_500, help="records per source")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES), metavar="MODE")
    args = parser.parse_args()

    results = {}
    try:
        for label in args.modes:
            environment = MODES[label]
            stop_services()  # in the mode before (its processes are the ones `down` knows)
            os.environ.update(environment)
            stop_services()
            timed(["rm", "-rf", str(HOME)])
            up_s = timed([*CLI, "up"])
            timed([*CLI, "generate", "--rows", str(args.rows)])
            ingest_s = timed([*CLI, "ingest"])
            build_s = timed([*CLI, "build"])
            results[label] = (up_s, ingest_s, build_s, service_memory())
            print(f"{label}: up {up_s:.1f} s, ingest {ingest_s:.1f} s, build {build_s:.1f} s", flush=True)
            print(f"  memory: {_memory_line(results[label][3])}", flush=True)
    finally:
        stop_services()

    print(f"\n{args.rows:,} records per source, fresh data home each")
    print(f"{'':<20} {'up':>7} {'ingest':>8} {'build':>8} {'ingest + build':>15}")
    for label, (up_s, ingest_s, build_s, _) in results.items():
        print(f"{label:<20} {up_s:>6.1f}s {ingest_s:>7.1f}s {build_s:>7.1f}s {ingest_s + build_s:>14.1f}s")
    print("\nmemory after the build, MiB (resident / peak; a worker with its executor)")
    for label, (*_, figures) in results.items():
        print(f"  {label}: {_memory_line(figures)}")


def _memory_line(figures: dict[str, tuple[int, int]]) -> str:
    return ", ".join(f"{name} {now}/{peak}" for name, (now, peak) in figures.items())


if __name__ == "__main__":
    main()
