"""The whole pipeline as the data grows: prints figures, asserts nothing.

For each size (records per source), on a fresh data home: `lakehouse up`, `lakehouse generate`,
`lakehouse ingest` and `lakehouse build` (everything, the first build of the home), each timed;
the records that reached bronze; the time per bronze record of the ingestion and of the build;
and the peak memory of every service over the whole run (its child processes included).

    make bench-growth                             # 20,000, 200,000 and 2,000,000 records per source
    .venv/bin/python benchmarks/growth.py --rows 20000,200000

It runs against its own data home (.lakehouse/bench) and ports, started and stopped here.
"""

from __future__ import annotations

import argparse

from bench_env import CLI, HOME, service_memory, stop_services, timed
from dbt_build import bronze_rows


def run(rows: int) -> dict:
    stop_services()
    timed(["rm", "-rf", str(HOME)])
    up_s = timed([*CLI, "up"])
    generate_s = timed([*CLI, "generate", "--rows", str(rows)])
    ingest_s = timed([*CLI, "ingest"])
    build_s = timed([*CLI, "build"])
    return {
        "up": up_s,
        "generate": generate_s,
        "ingest": ingest_s,
        "build": build_s,
        "bronze": bronze_rows(),
        "memory": service_memory(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="20000,200000,2000000", help="comma-separated records per source")
    args = parser.parse_args()

    results = {}
    try:
        for rows in (int(size) for size in args.rows.split(",")):
            results[rows] = figures = run(rows)
            print(
                f"{rows:,} per source: up {figures['up']:.1f} s, generate {figures['generate']:.1f} s, "
                f"ingest {figures['ingest']:.1f} s, build {figures['build']:.1f} s, {figures['bronze']:,} bronze rows",
                flush=True,
            )
    finally:
        stop_services()

    print(
        f"\n{'per source':>10} {'bronze rows':>12} {'generate':>9} {'ingest':>8} {'build':>8} "
        f"{'ingest µs/row':>14} {'build µs/row':>13}"
    )
    for rows, f in results.items():
        print(
            f"{rows:>10,} {f['bronze']:>12,} {f['generate']:>8.1f}s {f['ingest']:>7.1f}s {f['build']:>7.1f}s "
            f"{f['ingest'] / f['bronze'] * 1e6:>14.1f} {f['build'] / f['bronze'] * 1e6:>13.1f}"
        )
    services = sorted({name for f in results.values() for name in f["memory"]})
    print("\npeak memory, MiB (since the service started, with its child processes)")
    print(f"{'per source':>10} " + " ".join(f"{name:>12}" for name in services))
    for rows, f in results.items():
        print(f"{rows:>10,} " + " ".join(f"{f['memory'].get(name, (0, 0))[1]:>12}" for name in services))


if __name__ == "__main__":
    main()
