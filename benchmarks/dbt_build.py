"""dbt build benchmark: prints figures, asserts nothing.

For each size (records per source): a fresh data home, the sample data generated and ingested,
then the full build (`lakehouse build` in a fresh data home: everything), and with no new data:
`lakehouse build` again, `lakehouse run`, Dagster's `transform_everything` job, and plain
`dbt build` (everything again); the slowest models from `run_results.json`. Then one new batch of
sales and the build of what it reaches (the live loop's round), profiled node by node: statements,
their seconds and the Delta commits each node made (benchmarks/node_profile.py).

    make bench-dbt                                # 20,000 and 200,000 records per source
    .venv/bin/python benchmarks/dbt_build.py --rows 5000

It runs against its own data home (.lakehouse/bench) and ports, started and stopped here.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timedelta

from bench_env import CLI, DBT_TARGET, fresh_home, stop_services, timed
from node_profile import Node, log_size, print_profile, profile

from lakehouse.build.dbt import dbt_executable

DBT = dbt_executable()
SLOWEST = 8


def model_times() -> list[tuple[str, float]]:
    results = json.loads((DBT_TARGET / "run_results.json").read_text())["results"]
    models = [
        (r["unique_id"].split(".")[-1], r["execution_time"]) for r in results if r["unique_id"].startswith("model.")
    ]
    return sorted(models, key=lambda item: item[1], reverse=True)


def bronze_rows() -> int:
    from ingestion.sources import SOURCES
    from ingestion.spark import connect

    spark = connect()
    union = " union all ".join(f"select count(*) as n from bronze.{name}" for name in SOURCES)
    total = spark.sql(f"select sum(n) from ({union})").collect()[0][0]
    spark.stop()
    return int(total)


TRANSFORM_EVERYTHING = (
    "from dagster import DagsterInstance\n"
    "from orchestration.definitions import defs\n"
    "job = defs.resolve_job_def('transform_everything')\n"
    "raise SystemExit(0 if job.execute_in_process(instance=DagsterInstance.ephemeral()).success else 1)\n"
)


def bench(rows: int, round_only: bool) -> dict:
    fresh_home()
    timed([*CLI, "generate", "--rows", str(rows)])
    ingest_s = timed([*CLI, "ingest"])
    first_s = timed([*CLI, "build"])  # everything: no build recorded in this data home yet
    figures = {
        "rows": rows,
        "bronze": bronze_rows(),
        "ingest": ingest_s,
        "first": first_s,
        "first_models": model_times(),
    }
    if not round_only:  # with no new data:
        figures["build"] = timed([*CLI, "build"])
        figures["run"] = timed([*CLI, "run", "--rows", str(rows)])
        figures["dagster"] = timed([sys.executable, "-c", TRANSFORM_EVERYTHING])
        figures["plain"] = timed([DBT, "build", "--target", "local"])
        figures["plain_models"] = model_times()
    figures["sales_round"] = sales_round()
    return figures


def sales_round() -> list[Node]:
    """30 new sales (new ids, each on a day of its own), ingested, then `lakehouse build`, profiled."""
    from ingestion import kafka_client
    from ingestion.spark import connect
    from lakehouse.samples.records import one_sale

    producer = kafka_client.producer(linger_ms=0)
    for n in range(30):
        producer.send("sales", one_sale(8_000_000 + n, date(2031, 1, 1) + timedelta(days=n)))
    producer.flush()
    producer.close()
    timed([*CLI, "ingest", "sales"])
    log = DBT_TARGET.parent / "logs" / "dbt.log"
    offset, started = log_size(log), datetime.now()
    timed([*CLI, "build"])
    spark = connect()
    try:
        return profile(spark, log, offset, DBT_TARGET / "run_results.json", started)
    finally:
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="20000,200000", help="comma-separated records per source")
    parser.add_argument("--round-only", action="store_true", help="only the full build and the profiled round")
    args = parser.parse_args()
    try:
        figures = [bench(int(rows), args.round_only) for rows in args.rows.split(",")]
    finally:
        stop_services()

    print(f"{'per source':>10} {'bronze rows':>12} {'ingest s':>9} {'full build s':>13}")
    for f in figures:
        print(f"{f['rows']:>10,} {f['bronze']:>12,} {f['ingest']:>9.1f} {f['first']:>13.1f}")
    print("\nthen, with no new data (seconds, and share of the full build):")
    for f in figures:
        if "build" not in f:
            continue
        print(f"  at {f['rows']:,} per source:")
        for key, what in (
            ("build", "lakehouse build"),
            ("run", "lakehouse run (make run)"),
            ("dagster", "Dagster transform_everything (new process)"),
            ("plain", "plain dbt build (everything again)"),
        ):
            print(f"    {what:<45} {f[key]:>7.1f} s  {100 * f[key] / f['first']:>5.1f} %")
    for f in figures:
        print(f"\nslowest models at {f['rows']:,} per source: full build | plain dbt build again")
        again = dict(f.get("plain_models", []))
        for name, seconds in f["first_models"][:SLOWEST]:
            print(f"  {name:<45} {seconds:>6.1f} s | {again.get(name, 0):>6.1f} s")
    for f in figures:
        print_profile(f["sales_round"], f"a round of the live loop at {f['rows']:,} per source (30 new sales)")


if __name__ == "__main__":
    main()
