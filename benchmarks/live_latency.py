"""How long new data takes to reach gold by itself, with `lakehouse ui` (Dagster's daemon) running,
or `lakehouse run --follow` (`--via follow`).

On a fresh data home: start `lakehouse ui` (or `lakehouse run --follow` on `--rows` sample records),
wait until every layer is built (the time to a first gold), then produce sales to Kafka at one per second,
each on a day of its own, and note when each one appears in `gold.agg_sales_by_product_day`;
then drop a transactions file in the landing zone and time it the same way. Prints the latencies.

    .venv/bin/python benchmarks/live_latency.py [--messages 30] [--via follow --rows 2000]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

from bench_env import CLI, HOME, ROOT, stop_services  # sets the environment first

from ingestion import kafka_client
from ingestion.spark import connect
from lakehouse.samples.records import one_sale
from lakehouse.settings import settings

FIRST_DAY = date(2031, 1, 1)
GOLD = "gold.agg_sales_by_product_day"


def start(via: str, rows: int) -> subprocess.Popen:
    """`lakehouse ui`, or `lakehouse run --follow`, on a fresh data home."""
    stop_services()
    subprocess.run(["rm", "-rf", str(HOME)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE")}
    log = (HOME.parent / f"bench-{via}.log").open("w")
    argv = [*CLI, "ui"] if via == "ui" else [*CLI, "run", "--follow", "--rows", str(rows), "--interval", "5"]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)


def stop_group(process: subprocess.Popen, grace_s: float = 30) -> None:
    """`lakehouse ui` and everything it started (dagster dev, its webserver, daemon, run workers)."""
    os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        process.poll()
        time.sleep(1)
    else:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=grace_s)


def server_answers(spark) -> bool:
    try:
        return spark.sql("select 1").collect()[0][0] == 1
    except Exception:  # noqa: BLE001 (still starting: no session yet)
        return False


def days_in_gold(spark) -> set[date]:
    if not spark.catalog.tableExists(GOLD):
        return set()
    rows = spark.sql(f"select distinct order_date from {GOLD} where order_date >= date'{FIRST_DAY}'").collect()
    return {row.order_date for row in rows}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--via", choices=["ui", "follow"], default="ui", help="what keeps gold up to date")
    parser.add_argument("--rows", type=int, default=2000, help="sample records per source for --via follow")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stopped from outside: still clean up
    started = time.monotonic()
    ui = start(args.via, args.rows)
    try:
        spark = None
        while spark is None or not server_answers(spark):
            try:
                spark = connect()
            except Exception:  # noqa: BLE001 (the server is still starting)
                time.sleep(2)
        while not spark.catalog.tableExists(GOLD):
            if time.monotonic() - started > args.timeout:
                raise SystemExit("gold was never built on the fresh data home")
            time.sleep(2)
        first_gold_s = time.monotonic() - started
        time.sleep(20)  # the first builds settle

        producer = kafka_client.producer(linger_ms=0)
        produced: dict[date, float] = {}
        seen: dict[date, float] = {}
        for n in range(args.messages):
            producer.send("sales", one_sale(9_000_000 + n, FIRST_DAY + timedelta(days=n))).get(timeout=30)
            produced[FIRST_DAY + timedelta(days=n)] = time.monotonic()
            for day in days_in_gold(spark) - set(seen):
                seen[day] = time.monotonic()
            time.sleep(max(0.0, produced[FIRST_DAY + timedelta(days=n)] + 1 - time.monotonic()))
        producer.close()
        deadline = time.monotonic() + args.timeout
        while set(produced) - set(seen) and time.monotonic() < deadline:
            for day in days_in_gold(spark) - set(seen):
                seen[day] = time.monotonic()
            time.sleep(0.5)
        latencies = [seen[day] - produced[day] for day in produced if day in seen]

        file_day = FIRST_DAY + timedelta(days=400)
        landing = Path(settings().landing) / "transactions"
        landing.mkdir(parents=True, exist_ok=True)
        (landing / "live_bench.csv").write_text(
            "transaction_id,customer_id,product_id,quantity,unit_price,currency,transaction_timestamp,country,"
            f"payment_method,status\nLIVE0001,C00007,101,1,899.99,EUR,{file_day}T12:00:00Z,France,card,completed\n"
        )
        dropped = time.monotonic()
        while file_day not in days_in_gold(spark) and time.monotonic() - dropped < args.timeout:
            time.sleep(0.5)
        file_s = time.monotonic() - dropped if file_day in days_in_gold(spark) else None
    finally:
        stop_group(ui)
        stop_services()

    print(f"via {args.via}: fresh data home to a first gold (services, seeds, every model): {first_gold_s:.0f} s")
    print(f"sales produced at 1/s: {len(latencies)} of {len(produced)} reached {GOLD}")
    if latencies:
        print(
            f"latency produce -> gold: p50 {statistics.median(latencies):.1f} s, p95 {percentile(latencies, 0.95):.1f} s, "
            f"min {min(latencies):.1f} s, max {max(latencies):.1f} s"
        )
    print(
        f"landing file -> gold (5 s settle rule included): {file_s:.1f} s"
        if file_s
        else "landing file never reached gold"
    )


if __name__ == "__main__":
    main()
