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
import subprocess
import sys
import time

from bench_env import CLI, ROOT, fresh_home, stop_services, timed

from lakehouse.build.dbt import dbt_executable

LOAD = "from orchestration.definitions import defs; defs.resolve_asset_graph()"
MATERIALIZE_ALL = (
    "from dagster import DagsterInstance\n"
    "from orchestration.definitions import defs\n"
    "instance = DagsterInstance.ephemeral()\n"
    "result = defs.resolve_job_def('build_everything').execute_in_process(instance=instance)\n"
    "for step in instance.get_run_step_stats(result.run_id):\n"
    "    print(f'STEP {step.step_key} {step.end_time - step.start_time:.1f}')\n"
    "raise SystemExit(0 if result.success else 1)\n"
)


def dagster_steps(output: str) -> dict[str, float]:
    """Seconds per step of the run, as MATERIALIZE_ALL prints them."""
    steps = [line.split()[1:] for line in output.splitlines() if line.startswith("STEP ")]
    return {key: float(seconds) for key, seconds in steps}


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
        ingest_s = timed([*CLI, "ingest"])
        dbt_s = timed([dbt_executable(), "build", "--target", "local"])
        cli_s = ingest_s + dbt_s
        fresh_home_with_sample_data(args.rows)
        started = time.perf_counter()
        output = subprocess.run(
            [sys.executable, "-c", MATERIALIZE_ALL], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        dagster_s = time.perf_counter() - started
        steps = dagster_steps(output)
    finally:
        stop_services()

    print(f"code location load (fresh process, {args.loads} loads): median {statistics.median(loads):.1f} s, "
          f"min {min(loads):.1f} s, max {max(loads):.1f} s")  # fmt: skip
    print(f"\n{args.rows:,} records per source, fresh data home each:")
    print(f"  CLI: lakehouse ingest + dbt build     {cli_s:>7.1f} s  (ingest {ingest_s:.1f}, dbt build {dbt_s:.1f})")
    print(f"  Dagster: materialise all (in process) {dagster_s:>7.1f} s")
    dbt_steps = sum(seconds for key, seconds in steps.items() if "dbt" in key)
    print(f"    steps: {len(steps)}, ingestion {sum(steps.values()) - dbt_steps:.1f} s, dbt {dbt_steps:.1f} s, "
          f"outside steps {dagster_s - sum(steps.values()):.1f} s")  # fmt: skip
    for key, seconds in sorted(steps.items(), key=lambda item: -item[1]):
        print(f"      {key:<50} {seconds:>6.1f} s")
    print(f"  orchestration overhead ratio          {dagster_s / cli_s:>7.2f}")


if __name__ == "__main__":
    main()
