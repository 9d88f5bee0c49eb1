"""dbt build benchmark: prints figures, asserts nothing.

For each size (records per source): a fresh data home, the sample data generated and ingested,
then a first `dbt build` (everything built from scratch), a second `dbt build` with no new data
(incremental models should find nothing to do), and the slowest models of each from
`target/run_results.json`.

    make bench-dbt                                # 20,000 and 200,000 records per source
    .venv/bin/python benchmarks/dbt_build.py --rows 5000

It runs against its own data home (.lakehouse/bench) and ports, started and stopped here.
"""

from __future__ import annotations

import argparse
import json

from bench_env import CLI, DBT_TARGET, fresh_home, stop_services, timed

from lakehouse.dbt import dbt_executable

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


def bench(rows: int) -> dict:
    fresh_home()
    timed([*CLI, "generate", "--rows", str(rows)])
    ingest_s = timed([*CLI, "ingest"])
    first_s = timed([DBT, "build", "--target", "local"])
    first_models = model_times()
    second_s = timed([DBT, "build", "--target", "local"])
    return {
        "rows": rows,
        "bronze": bronze_rows(),
        "ingest": ingest_s,
        "first": first_s,
        "second": second_s,
        "first_models": first_models,
        "second_models": model_times(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="20000,200000", help="comma-separated records per source")
    args = parser.parse_args()
    try:
        figures = [bench(int(rows)) for rows in args.rows.split(",")]
    finally:
        stop_services()

    print(f"{'per source':>10} {'bronze rows':>12} {'ingest s':>9} {'dbt build s':>12} {'again, no new data s':>21}")
    for f in figures:
        print(f"{f['rows']:>10,} {f['bronze']:>12,} {f['ingest']:>9.1f} {f['first']:>12.1f} {f['second']:>21.1f}")
    for f in figures:
        print(f"\nslowest models at {f['rows']:,} per source: first build | again, no new data")
        again = dict(f["second_models"])
        for name, seconds in f["first_models"][:SLOWEST]:
            print(f"  {name:<45} {seconds:>6.1f} s | {again.get(name, 0):>6.1f} s")


if __name__ == "__main__":
    main()
