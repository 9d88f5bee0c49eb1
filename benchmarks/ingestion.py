"""Ingestion benchmark: prints figures, asserts nothing.

Kafka -> bronze on N messages of about 200 bytes, side by side with the hand-written Spark job it
competes with (Spark's Kafka source -> `from_json` with the source's schema -> Delta append, in a
process of its own like the ingestion; on a fresh server each side gets a freshly started one, and
on a warm one ours has run once, untimed, since the restart for the baseline), and,
for information, with reading the same topic and doing nothing else: kafka-python, with its C
CRC-32C (as installed here) and with its pure-Python fallback, and Spark's Kafka source.
Memory at each size: peak RSS of the ingestion process, and of the Spark server, which reads the
messages and writes bronze (its RSS after the run, and its peak since it started).
Files -> bronze for N transactions (CSV), N log lines and N social posts (JSON lines), side by side
with the hand-written Spark job that reads the same file into Delta, each side on a freshly
started server, then both on a warm one.

    make bench                                    # 1M and 5M messages, 1M file rows
    .venv/bin/python benchmarks/ingestion.py --messages 200000 --file-rows 200000

It runs against its own data home (.lakehouse/bench) and ports, started and stopped here.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.bench_env import ROOT, fresh_home, peak_mib, stop_services  # noqa: E402  (sets the environment first)
from ingestion import kafka_client  # noqa: E402
from ingestion.sources import Source, get_source  # noqa: E402
from lakehouse.services.spark_server import SparkServer  # noqa: E402
from lakehouse.settings import settings  # noqa: E402


def bench_source(kind: str, size: int, run: str = "", topic: str | None = None) -> Source:
    """The run's own source (and bronze table); a Kafka source reads the topic of its name unless
    given another."""
    base = get_source("device_events" if kind == "kafka" else kind)
    name = f"bench_{base.name}_{size}{run}"
    return dataclasses.replace(base, name=name, topic=(topic or name) if kind == "kafka" else None)


def _message(rng: random.Random, n: int) -> bytes:
    # About 200 bytes, like a device event with its envelope.
    return (
        f'{{"device_id": "THE-{rng.randint(1, 9999):04d}", "device_type": "thermostat", '
        f'"event_type": "temperature", "value": {rng.uniform(0, 100):.3f}, '
        f'"event_timestamp": "2026-11-01T{n % 24:02d}:{n % 60:02d}:{n % 59:02d}.{n % 1000:03d}Z", '
        f'"firmware": "v2.{n % 17}.{n % 5}", "seq": {n}, "site": "plant-{n % 40:02d}"}}'
    ).encode()


def produce_messages(topic: str, count: int) -> int:
    from lakehouse.samples.producer import produce

    rng = random.Random(1)
    total_bytes = 0

    def values():
        nonlocal total_bytes
        for n in range(count):
            value = _message(rng, n)
            total_bytes += len(value)
            yield value

    produce(topic, values(), total=count, progress=False)
    return total_bytes


def raw_consume_in_child(topic: str, expected: int, c_crc: bool) -> float:
    """`raw_consume` in a fresh process, with kafka-python's C CRC-32C or its pure-Python one."""
    code = (
        "import sys\n"
        + ("" if c_crc else "sys.modules['crc32c'] = None  # kafka-python falls back to pure Python\n")
        + f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from benchmarks.ingestion import raw_consume\n"
        f"print(raw_consume({topic!r}, {expected}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(result.stdout.split()[-1])


def spark_read(topic: str) -> float:
    """Seconds the Spark server takes to read the whole topic with the ingestion's reader, writing nothing."""
    from kafka import TopicPartition

    from ingestion.plans import KafkaPlan, OffsetRange
    from ingestion.spark import connect
    from ingestion.topics import kafka_messages

    consumer = kafka_client.consumer()
    ends = consumer.end_offsets([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
    consumer.close()
    plan = KafkaPlan(topic, tuple(OffsetRange(tp.partition, 0, end) for tp, end in sorted(ends.items())))
    started = time.perf_counter()
    kafka_messages(connect(), plan).write.format("noop").mode("overwrite").save()
    return time.perf_counter() - started


def kafka_to_delta(topic: str) -> None:
    """The hand-written Spark job ours competes with, as the seed projects land Kafka in Delta: the
    topic's offsets with Spark's Kafka source, the JSON typed with the source's schema, appended to
    a Delta table with the Kafka coordinates and the raw message. No ledger, quarantine or check."""
    from pyspark.sql import functions as F

    from ingestion.spark import connect
    from ingestion.validation import SPARK_TYPES

    fields = get_source("device_events").fields
    schema = ", ".join(f"`{(f.aliases or (f.name,))[0]}` {SPARK_TYPES[f.type].simpleString()}" for f in fields)
    spark = connect()
    spark.sql("create schema if not exists bench_baseline")
    messages = (
        spark.read.format("kafka")
        .options(**kafka_client.spark_options())
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )
    value = F.col("value").cast("string")
    typed = messages.select(
        F.from_json(value, schema).alias("record"),
        value.alias("_raw"),
        "topic",
        "partition",
        "offset",
        "timestamp",
        F.col("key").cast("string").alias("key"),
    ).select("record.*", "_raw", "topic", "partition", "offset", "timestamp", "key")
    typed.write.format("delta").mode("append").saveAsTable(f"bench_baseline.{topic}")


def in_child(code: str) -> tuple[float, int]:
    """Run `code` in a child process (as a user's job starts); (seconds to its exit, peak RSS MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{code}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"`{code}` failed with status {status}")
    return elapsed, usage.ru_maxrss // 1024


def restart_spark() -> None:
    server = SparkServer(settings())
    server.stop()
    server.start()


def raw_consume(topic: str, expected: int) -> float:
    """Seconds kafka-python alone takes to read the whole topic (large fetches, no processing)."""
    from kafka import TopicPartition

    consumer = kafka_client.consumer(max_poll_records=5000, fetch_max_bytes=64 << 20, max_partition_fetch_bytes=8 << 20)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    seen, started = 0, time.perf_counter()
    while seen < expected:
        for records in consumer.poll(timeout_ms=1000).values():
            seen += len(records)
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def ingest_in_child(kind: str, size: int, run: str = "", topic: str | None = None) -> tuple[float, int]:
    """The ingestion in a child process: (seconds from its start to its exit, peak RSS in MiB)."""
    return in_child(
        "from benchmarks.ingestion import bench_source\n"
        "from ingestion.api import ingest\n"
        "from ingestion.spark import connect\n"
        f"ingest(connect(), bench_source({kind!r}, {size}, {run!r}, {topic!r}))\n"
    )


def baseline_in_child(topic: str) -> float:
    return in_child(f"from benchmarks.ingestion import kafka_to_delta\nkafka_to_delta({topic!r})\n")[0]


LANDING_FILE = {"transactions": "data.csv", "server_logs": "access.log", "social_posts": "posts.jsonl"}


def landing_file(kind: str, size: int, run: str = "") -> Path:
    return Path(settings().landing) / bench_source(kind, size, run).name / LANDING_FILE[kind]


def write_files(kind: str, size: int) -> int:
    from lakehouse.samples.records import TRANSACTIONS_HEADER, encode, server_logs, social_posts, transactions

    path = landing_file(kind, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2)
    with path.open("w", encoding="utf-8") as handle:
        if kind == "transactions":
            handle.write(",".join(TRANSACTIONS_HEADER) + "\n")
            for n, row in enumerate(transactions(rng, size)):
                if n >= size:
                    break
                handle.write(",".join(row) + "\n")
        elif kind == "server_logs":
            for line in server_logs(rng, size):
                handle.write(line + "\n")
        else:
            for post in social_posts(rng, size):
                handle.write((post if isinstance(post, str) else encode(post).decode()) + "\n")
    past = time.time() - 60
    os.utime(path, (past, past))
    for run in ("_warmup", "_warm"):  # the same file for the later runs (a source of its own each)
        copy = landing_file(kind, size, run)
        copy.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, copy)
    return path.stat().st_size


def file_to_delta(kind: str, size: int, run: str = "") -> None:
    """The hand-written Spark job a file ingestion competes with, as the seed projects load files:
    Spark reads the file itself (CSV with its header, JSON lines, or text lines split by the
    combined-log regex), casts each field to the source's type (null when it is not one) and
    appends to a Delta table with the file's name. No ledger, quarantine, line numbers or checks."""
    from pyspark.sql import functions as F

    from ingestion.readers import COMBINED_LOG
    from ingestion.spark import connect
    from ingestion.validation import SPARK_TYPES

    source, path = get_source(kind), landing_file(kind, size, run).as_uri()
    spark = connect()
    if kind == "transactions":
        frame = spark.read.option("header", True).csv(path)
    elif kind == "social_posts":
        frame = spark.read.json(path, primitivesAsString=True)
    else:
        pattern = re.sub(r"\(\?P<\w+>", "(", COMBINED_LOG.pattern)  # Java's group names allow no underscore
        lines = spark.read.text(path)
        frame = lines.select(
            *[F.regexp_extract("value", pattern, n).alias(name) for n, name in enumerate(COMBINED_LOG.groupindex, 1)]
        )
    columns = []
    for field in source.fields:
        name = next(n for n in (field.name, *field.aliases) if n in frame.columns)
        if field.type == "timestamp" and field.timestamp_format:
            columns.append(F.try_to_timestamp(F.col(name), F.lit(field.timestamp_format)).alias(field.name))
        else:
            columns.append(F.col(name).try_cast(SPARK_TYPES[field.type]).alias(field.name))
    spark.sql("create schema if not exists bench_baseline")
    typed = frame.select(*columns, F.input_file_name().alias("_source_file"))
    typed.write.format("delta").mode("append").saveAsTable(f"bench_baseline.{bench_source(kind, size, run).name}")


def bench_kafka(sizes: list[int]) -> None:
    print("Kafka -> bronze")
    print(
        f"{'':>18} {'read only, msg/s':^40} {'to Delta, msg/s':^28} {'ratio of ours to':^28} {'memory, MiB':^31}\n"
        f"{'messages':>10} {'server':>7} {'MB':>8} {'k-p, C crc':>11} {'k-p, py crc':>12} {'Spark':>9} "
        f"{'ours':>8} {'MB/s':>6} {'Spark job':>10} {'Spark job':>10} {'k-p C':>7} {'k-p py':>8} "
        f"{'client peak':>12} {'server':>7} {'server peak':>12}"
    )
    # The first size twice: each side on a server freshly started for it (class loading, JIT), then
    # both on a server that has run both (ours once more first, untimed, on the fresh run's topic: the
    # restart for the baseline undid ours' warm-up).
    fresh_topic = None
    for size, server_state in [(sizes[0], "fresh"), *[(size, "warm") for size in sizes]]:
        run = f"_{server_state}"
        topic = bench_source("kafka", size, run).topic
        total_bytes = produce_messages(topic, size)
        c_crc_s = raw_consume_in_child(topic, size, c_crc=True)
        py_crc_s = raw_consume_in_child(topic, size, c_crc=False)
        if server_state == "fresh":
            restart_spark()
            fresh_topic = topic
        elif fresh_topic:
            ingest_in_child("kafka", sizes[0], "_warmup", fresh_topic)
            fresh_topic = None
        ingest_s, rss = ingest_in_child("kafka", size, run)
        server = psutil.Process(SparkServer(settings()).status().pid)
        server_rss, server_peak = server.memory_info().rss >> 20, peak_mib(server.pid)
        if server_state == "fresh":
            restart_spark()  # each side on a server that never read Kafka
        job_s = baseline_in_child(topic)
        spark_s = spark_read(topic)
        mb = total_bytes / 1e6
        print(
            f"{size:>10} {server_state:>7} {mb:>8.1f} {size / c_crc_s:>11,.0f} {size / py_crc_s:>12,.0f} "
            f"{size / spark_s:>9,.0f} {size / ingest_s:>8,.0f} {mb / ingest_s:>6.2f} {size / job_s:>10,.0f} "
            f"{job_s / ingest_s:>10.2f} {c_crc_s / ingest_s:>7.2f} {py_crc_s / ingest_s:>8.2f} "
            f"{rss:>12} {server_rss:>7} {server_peak:>12}",
            flush=True,
        )


def bench_files(rows: int) -> None:
    """Each file twice: each side on a server freshly started for it, then both again on a server
    that has run both (ours once more first, untimed: the restart for the baseline undid ours'
    warm-up); each run with a source and a table of its own, on the same file."""
    print("\nfiles -> bronze")
    print(
        f"{'source':>14} {'rows':>10} {'MB':>8} {'server':>7} {'ours, s':>8} {'ours, rows/s':>13} "
        f"{'Spark job, s':>13} {'Spark job, rows/s':>18} {'ratio':>6} {'client peak MiB':>16}"
    )
    for kind in ("transactions", "server_logs", "social_posts"):
        size_bytes = write_files(kind, rows)
        for server_state, run in (("fresh", ""), ("warm", "_warm")):
            if server_state == "fresh":
                restart_spark()
            else:
                ingest_in_child(kind, rows, "_warmup")
            seconds, rss = ingest_in_child(kind, rows, run)
            if server_state == "fresh":
                restart_spark()
            job_s = in_child(
                f"from benchmarks.ingestion import file_to_delta\nfile_to_delta({kind!r}, {rows}, {run!r})\n"
            )[0]
            print(
                f"{kind:>14} {rows:>10} {size_bytes / 1e6:>8.1f} {server_state:>7} {seconds:>8.1f} "
                f"{rows / seconds:>13,.0f} {job_s:>13.1f} {rows / job_s:>18,.0f} {job_s / seconds:>6.2f} {rss:>16}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", default="1000000,5000000", help="comma-separated topic sizes; '' for none")
    parser.add_argument("--file-rows", type=int, default=1_000_000, help="records per file; 0 for none")
    args = parser.parse_args()
    sizes = [int(size) for size in args.messages.split(",") if size]

    fresh_home()
    print(
        f"batches of {settings().ingest_batch_messages} messages, {settings().ingest_batch_rows} file records; "
        f"data home {settings().home}\n"
    )
    try:
        if sizes:
            bench_kafka(sizes)
        if args.file_rows:
            bench_files(args.file_rows)
    finally:
        stop_services()


if __name__ == "__main__":
    main()
