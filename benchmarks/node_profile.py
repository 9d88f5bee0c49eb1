"""Where each node of one dbt build spends its time: the statements dbt sent (from dbt's debug log),
their seconds, and the Delta commits the node's relation took (from its history). Prints a table;
`benchmarks/dbt_build.py` uses it for the build that follows one new batch of sales."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession

# `... [debug] [Thread-2 (]: On model.lakehouse.x: /* {...} */ select ...` then, on the same thread,
# `... [debug] [Thread-2 (]: SQL status: OK in 0.149 seconds`.
LINE = re.compile(r"\[debug\] \[(?P<thread>[^\]]+)\]: (?P<text>.*)$")
STATEMENT = re.compile(r"On (?P<node>(model|test|seed|unit_test)\.[^:]+): (?!ROLLBACK$|Close$)")
STATUS = re.compile(r"SQL status: \S+ in (?P<seconds>[\d.]+) seconds")


@dataclass
class Node:
    name: str
    kind: str
    status: str
    seconds: float
    relation: str | None
    statements: int = 0
    sql_seconds: float = 0.0
    commits: int = 0


def log_size(log_path: Path) -> int:
    """Where the log ends now: `profile` reads what a build appends after it."""
    return log_path.stat().st_size if log_path.exists() else 0


def profile(spark: SparkSession, log_path: Path, log_offset: int, run_results: Path, started: datetime) -> list[Node]:
    results = json.loads(run_results.read_text())["results"]
    nodes = {
        r["unique_id"]: Node(
            name=r["unique_id"].split(".")[-1],
            kind=r["unique_id"].split(".")[0],
            status=r["status"],
            seconds=r["execution_time"],
            relation=r.get("relation_name"),
        )
        for r in results
    }
    current: dict[str, str] = {}  # thread -> node of its latest statement
    with log_path.open(encoding="utf-8", errors="replace") as log:
        log.seek(log_offset)
        for line in log:
            match = LINE.search(line)
            if not match:
                continue
            thread, text = match["thread"], match["text"]
            if statement := STATEMENT.match(text):
                current[thread] = statement["node"]
            elif (status := STATUS.match(text)) and current.get(thread) in nodes:
                node = nodes[current.pop(thread)]
                node.statements += 1
                node.sql_seconds += float(status["seconds"])
    for node in nodes.values():
        if node.kind in ("model", "seed") and node.relation:
            try:
                history = spark.sql(f"describe history {node.relation}").collect()
            except AnalysisException:  # a view: no Delta log
                continue
            node.commits = sum(1 for row in history if row.timestamp >= started)
    return sorted(nodes.values(), key=lambda node: node.seconds, reverse=True)


def print_profile(nodes: list[Node], title: str) -> None:
    print(f"\n{title}: {len(nodes)} nodes, {sum(n.seconds for n in nodes):.1f} node-seconds")
    print(f"  {'node':<58} {'kind':<9} {'s':>6} {'stmts':>6} {'sql s':>6} {'commits':>8}")
    for n in nodes:
        print(
            f"  {n.name[:58]:<58} {n.kind:<9} {n.seconds:>6.2f} {n.statements:>6} {n.sql_seconds:>6.2f} {n.commits:>8}"
        )
    models = [n for n in nodes if n.kind == "model"]
    print(
        f"  models: {len(models)}, {sum(n.statements for n in models)} statements, "
        f"{sum(n.commits for n in models)} Delta commits; tests: {sum(1 for n in nodes if n.kind != 'model')}"
    )
