"""A compressed day of live traffic: many small Kafka micro-batches and small files, the build after
each round, as `lakehouse run --follow --build` does it. Prints figures, asserts nothing.

On a fresh data home holding the sample data (`lakehouse run --rows 2000`): rounds of `--round`
sales micro-batches (a few sales each) plus their share of `--files` small transactions files, then
`lakehouse build` of what they reach, in one process keeping its writers and dbt warm. At each
mark (`--marks`, in micro-batches) it prints: the seconds of a micro-batch and a file batch (the
mean of the round's), of a micro-batch taken by a run of its own (which reads the ledger), of the
round's build, the files of the tables that take a commit per batch,
the ledger's rows, files and log length, and the Spark server's memory; then it runs `lakehouse
maintain` and prints the same after a round more.

    .venv/bin/python benchmarks/soak.py [--batches 2000 --files 200 --round 100 --marks 100,1000,2000]

It uses the benchmarks' data home (.lakehouse/bench) and ports, wiped first; services stay running.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from bench_env import CLI, ROOT, fresh_home, service_memory, timed  # sets the environment first

from ingestion.api import Writers, ingest
from ingestion.sources import get_source
from ingestion.spark import connect
from lakehouse.build.dbt import WarmDbt, build_what_changed
from lakehouse.operations.maintenance import maintain
from lakehouse.samples.producer import produce
from lakehouse.samples.records import one_sale
from lakehouse.settings import settings

SALES_PER_BATCH = 5
RECORDS_PER_FILE = 20
TABLES = (
    "bronze.ingestion_batch_events",
    "bronze.sales__all",
    "bronze.transactions__all",
    "silver.slv_commerce__sales",
    "silver.slv_commerce__transactions",
    "gold.agg_sales_by_product_day",
)
HEADER = "transaction_id,customer_id,product_id,quantity,unit_price,currency,transaction_timestamp,country"


@dataclass
class Round:
    micro_batches: list[float] = field(default_factory=list)
    file_batches: list[float] = field(default_factory=list)
    build_s: float = 0.0


class Soak:
    def __init__(self) -> None:
        self.spark = connect()
        self.sales, self.transactions = get_source("sales"), get_source("transactions")
        self.writers, self.dbt, self.stop = Writers(), WarmDbt(), threading.Event()
        self.landing = Path(settings().landing) / "transactions"
        self.micro_batches = self.files = 0

    def micro_batch(self) -> float:
        self.micro_batches += 1
        first = self.micro_batches * SALES_PER_BATCH
        day = date(2031, 1, 1) + timedelta(days=self.micro_batches % 365)
        produce(
            self.sales.topic, [one_sale(9_000_000 + first + i, day) for i in range(SALES_PER_BATCH)], progress=False
        )
        started = time.perf_counter()
        batches = ingest(self.spark, self.sales, stop=self.stop, writers=self.writers)
        assert batches, "a produced micro-batch was not ingested"
        return time.perf_counter() - started

    def fresh_run(self) -> float:
        """A micro-batch as a run of its own takes it (a Dagster run, `lakehouse ingest`): the
        ledger read again, no writer kept."""
        self.micro_batches += 1
        day = date(2031, 1, 1) + timedelta(days=self.micro_batches % 365)
        first = self.micro_batches * SALES_PER_BATCH
        produce(
            self.sales.topic, [one_sale(9_000_000 + first + i, day) for i in range(SALES_PER_BATCH)], progress=False
        )
        started = time.perf_counter()
        ingest(self.spark, self.sales, stop=self.stop)
        return time.perf_counter() - started

    def file_batch(self) -> float:
        self.files += 1
        path = self.landing / f"soak-{self.files:05d}.csv"
        rows = (f"S{self.files}-{i},C1,101,1,2.5,EUR,2026-11-01T10:00:00Z,France" for i in range(RECORDS_PER_FILE))
        path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
        past = time.time() - 60
        os.utime(path, (past, past))  # settled
        started = time.perf_counter()
        ingest(self.spark, self.transactions, stop=self.stop, writers=self.writers)
        return time.perf_counter() - started

    def round(self, micro_batches: int, files: int) -> Round:
        done = Round()
        for n in range(micro_batches):
            done.micro_batches.append(self.micro_batch())
            if n < files:
                done.file_batches.append(self.file_batch())
        started = time.perf_counter()
        build_what_changed(dbt=self.dbt)
        done.build_s = time.perf_counter() - started
        return done

    def report(self, label: str, done: Round) -> None:
        files = {table: self._detail(table) for table in TABLES}
        events = self.spark.table("bronze.ingestion_batch_events").count()
        log_length = self.spark.sql("describe history bronze.ingestion_batch_events limit 1").first().version + 1
        memory = service_memory().get("spark", (0, 0))
        fresh = statistics.mean(self.fresh_run() for _ in range(3))
        print(
            f"{label:<28} micro-batch {statistics.mean(done.micro_batches):5.2f} s (a run of its own {fresh:5.2f} s)  "
            f"file batch {statistics.mean(done.file_batches or [0]):5.2f} s  build {done.build_s:6.1f} s  "
            f"ledger {events} events in {files['bronze.ingestion_batch_events']} files, {log_length} commits  "
            f"Spark {memory[0]} MiB (peak {memory[1]})",
            flush=True,
        )
        print(f"{'':<28} files: " + ", ".join(f"{t.split('.')[1]} {n}" for t, n in files.items()), flush=True)

    def _detail(self, table: str) -> int:
        return self.spark.sql(f"describe detail {table}").first().numFiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=2000, help="Kafka micro-batches in all")
    parser.add_argument("--files", type=int, default=200, help="small files in all")
    parser.add_argument("--round", type=int, default=100, help="micro-batches between two builds")
    parser.add_argument("--marks", default="100,1000,2000", help="micro-batches after which to report")
    parser.add_argument("--rows", type=int, default=2000, help="sample records per source to start from")
    args = parser.parse_args()
    marks = {int(mark) for mark in args.marks.split(",")}
    os.environ["DBT_QUIET"] = "true"  # dbt's errors only: the figures are what this prints
    fresh_home()
    print(
        f"sample data ({args.rows} rows per source) and its first build: {timed([*CLI, 'run', '--rows', str(args.rows)]):.0f} s"
    )
    soak = Soak()
    files_per_round = max(1, args.files * args.round // args.batches)
    started = time.perf_counter()
    while soak.micro_batches < args.batches:
        before = soak.micro_batches
        done = soak.round(args.round, files_per_round)
        if any(before < mark <= soak.micro_batches for mark in marks):
            soak.report(f"batch {soak.micro_batches} ({time.perf_counter() - started:.0f} s in)", done)
            maintain_started = time.perf_counter()
            maintain(soak.spark)
            maintained_s = time.perf_counter() - maintain_started
            soak.report(f"  after maintain ({maintained_s:.0f} s)", soak.round(10, 1))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
