"""The full `dbt build` against the same transformations run by a plain PySpark script: prints
figures, asserts nothing.

The baseline is what a project without dbt does: one PySpark program that reads the bronze tables,
computes every staging, silver and gold relation once, in dependency order, and writes it as a
Delta table (`saveAsTable`; staging as views) — no tests, no contracts, no metadata queries, no
per-model round trips beyond the statement itself. Its SQL is the project's own, compiled by
`dbt compile --full-refresh` before the clock starts, so both sides compute exactly the same thing:
the script writes into schemas `baseline_*`, and the benchmark checks that every gold table
equals dbt's (rows and checksum) before printing the ratio.

    .venv/bin/python benchmarks/gold_baseline.py                 # 20,000 records per source
    .venv/bin/python benchmarks/gold_baseline.py --rows 200000 --threads 2,4,8
    .venv/bin/python benchmarks/gold_baseline.py --repeat 3     # three warm pairs, and their median

Each side runs first on a freshly started Spark server (the server is restarted between them), then
both again on the warm server (dbt with --full-refresh): the JVM's warm-up is worth a third of a
build here, and the side that ran second would otherwise get it free. One warm pair varies by a tenth
from run to run on this shared machine: `--repeat` runs several, one after the other, and prints each
and the median ratio. With --threads, each thread count then rebuilds everything (`dbt build
--full-refresh --threads N`).

It runs against its own data home (.lakehouse/bench) and ports, started and stopped here, through
Spark Connect on the lakehouse server (the embedded metastore admits one JVM: a second driver
from spark-submit could not open it while the server runs).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from graphlib import TopologicalSorter

from bench_env import CLI, DBT_TARGET, ROOT, fresh_home, stop_services, timed

from lakehouse.build.dbt import dbt_executable

PREFIX = "baseline_"


def relations(manifest: dict) -> list[dict]:
    """Seeds and models in dependency order."""
    nodes = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] in ("model", "seed")}
    graph = {uid: [p for p in manifest["parent_map"][uid] if p in nodes] for uid in nodes}
    return [nodes[uid] for uid in TopologicalSorter(graph).static_order()]


def rename(sql: str, names: list[str]) -> str:
    """Every project relation `schema.name` becomes `baseline_schema.name`."""
    pattern = re.compile(
        r"(?<![\w.`])(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b"
    )
    return pattern.sub(lambda match: PREFIX + match.group(1), sql)


def seed_rows(node: dict) -> tuple[list[str], list[list[str]]]:
    with (ROOT / node["original_file_path"]).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def baseline(spark, manifest: dict) -> float:
    """The plain PySpark program; its wall time."""
    ordered = relations(manifest)
    names = [f"{node['schema']}.{node['alias'] or node['name']}" for node in ordered]
    started = time.perf_counter()
    for schema in sorted({node["schema"] for node in ordered}):
        spark.sql(f"drop schema if exists {PREFIX}{schema} cascade")
        spark.sql(f"create schema {PREFIX}{schema}")
    for node, name in zip(ordered, names, strict=True):
        target = PREFIX + name
        if node["resource_type"] == "seed":
            # typed as dbt typed the seed (one catalogue lookup, inside the timing)
            header, rows = seed_rows(node)
            types = {field.name: field.dataType.simpleString() for field in spark.table(name).schema}
            frame = spark.createDataFrame(rows, header)
            frame = frame.selectExpr(*[f"cast(`{c}` as {types[c]}) as `{c}`" for c in header])
            frame.write.format("delta").mode("overwrite").saveAsTable(target)
            continue
        sql = rename((DBT_TARGET / "compiled" / node["package_name"] / node["original_file_path"]).read_text(), names)
        if node["config"]["materialized"] == "view":
            spark.sql(f"create or replace view {target} as {sql}")
        else:
            spark.sql(sql).write.format("delta").mode("overwrite").saveAsTable(target)
    return time.perf_counter() - started


def restart_spark() -> None:
    """A freshly started Spark server: no side profits from the other's warm-up (JIT, caches)."""
    timed([*CLI, "spark", "stop"])
    timed([*CLI, "spark", "start"])


def timed_baseline(manifest: dict) -> float:
    from ingestion.spark import connect

    spark = connect()
    try:
        return baseline(spark, manifest)
    finally:
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="records per source")
    parser.add_argument("--threads", default="", help="dbt threads of extra full-refresh builds, comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="warm pairs (baseline, then dbt) to run")
    args = parser.parse_args()
    threads = [int(n) for n in args.threads.split(",") if n]
    dbt = dbt_executable()
    try:
        fresh_home()
        timed([*CLI, "generate", "--rows", str(args.rows)])
        timed([*CLI, "ingest"])
        timed([dbt, "seed", "--target", "local"])  # the baseline types its seeds as dbt did
        timed([dbt, "compile", "--full-refresh", "--target", "local"])
        manifest = json.loads((DBT_TARGET / "manifest.json").read_text())
        restart_spark()
        fresh = {"baseline": timed_baseline(manifest)}
        restart_spark()
        fresh["dbt"] = timed([dbt, "build", "--target", "local"])
        warm_pairs = []
        for _ in range(args.repeat):
            baseline_s = timed_baseline(manifest)
            warm_pairs.append(
                {"baseline": baseline_s, "dbt": timed([dbt, "build", "--full-refresh", "--target", "local"])}
            )
        by_ratio = sorted(warm_pairs, key=lambda pair: pair["dbt"] / pair["baseline"])
        warm = by_ratio[(len(by_ratio) - 1) // 2]  # the median pair (the lower one of an even count)
        refresh_s = {
            n: timed([dbt, "build", "--full-refresh", "--target", "local", "--threads", str(n)]) for n in threads
        }

        from ingestion.spark import connect
        from lakehouse.verify.checksums import gold_checksums

        spark = connect()
        ours, theirs = gold_checksums(spark, "gold"), gold_checksums(spark, f"{PREFIX}gold")
    finally:
        stop_services()

    differ = [name for (name, *a), (_, *b) in zip(ours, theirs, strict=True) if a != b]
    print(f"{args.rows:,} records per source, bronze ingested once; each side builds silver and gold from nothing")
    print(f"  {'server':<40} {'dbt build':>10} {'PySpark':>10} {'ratio':>7}")
    rows = [("freshly started for each side", fresh)]
    rows += [(f"warm (after both), run {n}", pair) for n, pair in enumerate(warm_pairs, 1)] if args.repeat > 1 else []
    rows += [("warm (after both)" + (", median" if args.repeat > 1 else ""), warm)]
    for server, side in rows:
        print(f"  {server:<40} {side['dbt']:>8.1f} s {side['baseline']:>8.1f} s {side['dbt'] / side['baseline']:>7.2f}")
    print(f"  (dbt build: seeds and {len(manifest['nodes'])} nodes with tests, the warm one with --full-refresh;")
    print("   plain PySpark: the same SQL, no tests)")
    for n, seconds in refresh_s.items():
        print(
            f"  dbt build --full-refresh, {n} threads, warm  {seconds:>7.1f} s, ratio {seconds / warm['baseline']:.2f}"
        )
    print(f"  gold tables equal: {len(ours) - len(differ)} of {len(ours)}" + (f" (differ: {differ})" if differ else ""))


if __name__ == "__main__":
    main()
