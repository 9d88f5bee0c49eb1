"""Dagster benchmark: prints figures, asserts nothing.

1. How long the code location takes to load (import `orchestration.definitions` and resolve the
   asset graph, in a fresh Python process, as `dagster dev` and every run do).
2. "Materialise all" (the `build_everything` job, in process) against the same work from the CLI
   (`lakehouse ingest`, then `dbt build`), each on a fresh data home holding the same sample data.
   The ratio is the orchestration overhead.

    make bench-dagster                            # 20,000 records per source
    .venv/bin/python benchmarks/dagster_overhead.py --rows 5000

It runs against its own data home (.lakehouse/bench) and ports, started and stopped here.
"""

import argparse
import statistics
import sys

from bench_env import CLI, ROOT, fresh_home, stop_services, timed

from lakehouse.dbt import dbt_executable

LOAD = "from orchestration.definitions import defs; defs.resolve_asset_graph()"
MATERIALIZE_ALL = (
    "from dagster import DagsterInstance\n"
    "from orchestration.definitions import defs\n"
    "result = defs.resolve_job_def('build_everything').execute_in_process(instance=DagsterInstance.ephemeral())\n"
    "raise SystemExit(0 if result.success else 1)\n"
)


def fresh_home_with_sample_data(rows: int) -> None:
    fresh_home()
    timed([*CLI, "generate", "--rows", str(rows)])
    timed([dbt_executable(), "parse", "--target", "local", "--target-path", str(ROOT / "target")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="records per source")
    parser.add_argument("--loads", type=int, default=5, help="code location loads to time")
    args = parser.parse_args()
    try:
        fresh_home_with_sample_data(args.rows)
        loads = [timed([sys.executable, "-c", LOAD]) for _ in range(args.loads)]
        cli_s = timed([*CLI, "ingest"]) + timed([dbt_executable(), "build", "--target", "local"])
        fresh_home_with_sample_data(args.rows)
        dagster_s = timed([sys.executable, "-c", MATERIALIZE_ALL])
    finally:
        stop_services()

    print(f"code location load (fresh process, {args.loads} loads): median {statistics.median(loads):.1f} s, "
          f"min {min(loads):.1f} s, max {max(loads):.1f} s")  # fmt: skip
    print(f"\n{args.rows:,} records per source, fresh data home each:")
    print(f"  CLI: lakehouse ingest + dbt build     {cli_s:>7.1f} s")
    print(f"  Dagster: materialise all (in process) {dagster_s:>7.1f} s")
    print(f"  orchestration overhead ratio          {dagster_s / cli_s:>7.2f}")


if __name__ == "__main__":
    main()
