"""What a one-pass Kafka -> bronze write would gain: prints figures, asserts nothing.

Ours checks a batch whole before any of it lands: the Spark server reads the batch from Kafka into
a cache, counts its good and bad records (a batch bad enough is quarantined whole), then writes
bronze and the quarantine from the cache, in batches of LAKEHOUSE_INGEST_BATCH_MESSAGES. A one-pass
write would append the good records straight from Kafka with the counts observed in the same job
(`DataFrame.observe`), the whole topic in one batch: the hand-written job's shape plus our typing
and checks. This measures that floor (no ledger events, no bad record, so no second read for the
quarantine) beside ours and the hand-written job of `benchmarks/ingestion.py`, each on the same
topic and the same warm server, twice.

    .venv/bin/python benchmarks/kafka_one_pass.py                      # 1M and 5M messages
    .venv/bin/python benchmarks/kafka_one_pass.py --messages 200000

It runs against the benchmarks' own data home (.lakehouse/bench) and ports, started and stopped here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.bench_env import fresh_home, stop_services  # noqa: E402  (sets the environment first)
from benchmarks.ingestion import (  # noqa: E402
    baseline_in_child,
    bench_source,
    in_child,
    ingest_in_child,
    produce_messages,
)

ONE_PASS = """
from pyspark.sql import functions as F
from pyspark.sql.observation import Observation

from benchmarks.ingestion import bench_source
from ingestion import tables
from ingestion.plans import KafkaPlan
from ingestion.spark import connect
from ingestion.topics import kafka_messages, unread_offsets
from ingestion.validation import validate

spark = connect()
source = bench_source("kafka", {size}, {run!r}, {topic!r})
tables.ensure_tables(spark, source)
plan = KafkaPlan(source.topic, unread_offsets(spark, source))
checked = validate(source, kafka_messages(spark, plan)).withColumns(
    {{"_batch_id": F.lit("one-pass"), "_ingested_at": F.current_timestamp()}}
)
counts = Observation("batch")
observed = checked.observe(counts, F.count(F.lit(1)).alias("records"), F.count("_reason").alias("bad"))
good = observed.where("_reason is null").drop("_reason")
tables.append_idempotent(good, source.table, f"one-pass-{{source.name}}", 1, "one-pass")
assert counts.get == {{"records": {size}, "bad": 0}}, counts.get
"""


def one_pass_in_child(size: int, run: str, topic: str) -> float:
    return in_child(ONE_PASS.format(size=size, run=run, topic=topic))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", default="1000000,5000000", help="comma-separated topic sizes")
    args = parser.parse_args()
    fresh_home()
    print(f"{'messages':>10} {'one pass, s':>12} {'ours, s':>8} {'job, s':>7} {'job/one pass':>13} {'job/ours':>9}")
    try:
        for size in [int(size) for size in args.messages.split(",") if size]:
            topic = bench_source("kafka", size, "_one_pass").topic
            produce_messages(topic, size)
            ingest_in_child("kafka", size, "_warmup", topic)  # untimed: the server's first read of Kafka
            for attempt in range(2):
                one_pass_s = one_pass_in_child(size, f"_one_pass{attempt}", topic)
                ours_s = ingest_in_child("kafka", size, f"_ours{attempt}", topic)[0]
                job_s = baseline_in_child(topic)
                print(
                    f"{size:>10} {one_pass_s:>12.1f} {ours_s:>8.1f} {job_s:>7.1f} "
                    f"{job_s / one_pass_s:>13.2f} {job_s / ours_s:>9.2f}",
                    flush=True,
                )
    finally:
        stop_services()


if __name__ == "__main__":
    main()
