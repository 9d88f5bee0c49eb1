"""The tables the lakehouse serves to readers (REST API, dashboard), with their documented columns.

Gold and silver columns come from the dbt models' YAML (the contracts enforce that the tables hold
exactly these columns), the ledger and the quarantine from the ingestion's own declarations. Only
these names are ever put into a query: what a client sends is matched against them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from ingestion.config import PROJECT_ROOT
from ingestion.tables import BATCHES, QUARANTINE, QUARANTINE_COLUMNS

# The silver tables a client wants by their plain name; the rest of silver stays internal.
SILVER_BY_NAME = {
    "transactions": "slv_commerce__transactions",
    "requests": "slv_web__requests",
    "posts": "slv_social__posts",
    "ad_events": "slv_marketing__ad_events",
}


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    description: str

    @property
    def kind(self) -> str:
        """How a filter value is read: text, integer, number, date, timestamp or boolean."""
        t = self.data_type.lower()
        if t in ("int", "integer", "bigint", "smallint", "tinyint", "long"):
            return "integer"
        if t.startswith(("decimal", "double", "float", "numeric")):
            return "number"
        if t == "date":
            return "date"
        if t.startswith("timestamp"):
            return "timestamp"
        if t == "boolean":
            return "boolean"
        return "text"


@dataclass(frozen=True)
class ServedTable:
    path: str
    """Where it is served: `gold/<model>`, `silver/<name>`, `ledger` or `quarantine`."""
    table: str
    """The lakehouse table: `gold.agg_sales_by_product`."""
    description: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def typed(self) -> bool:
        return all(c.data_type for c in self.columns)

    def with_types(self, types: dict[str, str]) -> ServedTable:
        """The same table with the types the lakehouse reports for columns the docs leave untyped."""
        columns = tuple(Column(c.name, c.data_type or types.get(c.name, "string"), c.description) for c in self.columns)
        return ServedTable(self.path, self.table, self.description, columns)


@cache
def model_docs(layer: str) -> dict[str, dict]:
    """The models of a layer (`staging`, `silver`, `gold`) as their YAML declares them, by name."""
    models = {}
    for path in sorted((PROJECT_ROOT / "models" / layer).rglob("*.yml")):
        for model in yaml.safe_load(Path(path).read_text()).get("models", []):
            models[model["name"]] = model
    return models


@cache
def _doc_blocks() -> dict[str, str]:
    blocks = {}
    for path in (PROJECT_ROOT / "models").rglob("*.md"):
        for name, text in re.findall(r"{%\s*docs\s+(\w+)\s*%}(.*?){%\s*enddocs\s*%}", path.read_text(), re.S):
            blocks[name] = text
    return blocks


def _text(description: object) -> str:
    """A description as dbt docs render it: `{{ doc('name') }}` replaced by its block, on one line."""
    text = re.sub(
        r"{{\s*doc\(['\"](\w+)['\"]\)\s*}}", lambda m: _doc_blocks().get(m.group(1), ""), str(description or "")
    )
    return " ".join(text.split())


def _served(path: str, table: str, model: dict) -> ServedTable:
    columns = tuple(
        Column(c["name"], str(c.get("data_type", "")), _text(c.get("description"))) for c in model.get("columns", [])
    )
    return ServedTable(path, table, _text(model.get("description")), columns)


_LEDGER_COLUMNS = (
    Column("batch_id", "string", "The batch."),
    Column("source", "string", "The source it read."),
    Column(
        "status",
        "string",
        "committed, quarantined, unreadable or rolled_back (abandoned: a batch a run of an earlier version left unwritten).",
    ),
    Column("started_at", "timestamp", "When the batch started (UTC)."),
    Column("finished_at", "timestamp", "When its ledger event was written (UTC)."),
    Column("rows_good", "bigint", "Rows written to bronze."),
    Column("rows_bad", "bigint", "Rows written to the quarantine."),
    Column("file_name", "string", "The landing file it read (files)."),
    Column("kafka_offset_ranges", "string", "The offsets it read (topics)."),
    Column("delta_version", "bigint", "The bronze table's Delta version it wrote."),
    Column("note", "string", "Why it was quarantined, rolled back or skipped."),
)


@cache
def served_tables() -> dict[str, ServedTable]:
    """Every served table by its path."""
    served = {}
    for name, model in model_docs("gold").items():
        served[f"gold/{name}"] = _served(f"gold/{name}", f"gold.{name}", model)
    silver = model_docs("silver")
    for name, model_name in SILVER_BY_NAME.items():
        served[f"silver/{name}"] = _served(f"silver/{name}", f"silver.{model_name}", silver[model_name])
    served["ledger"] = ServedTable("ledger", BATCHES, "The batch ledger: one row per batch.", _LEDGER_COLUMNS)
    served["quarantine"] = ServedTable(
        "quarantine",
        QUARANTINE,
        "Records that could not be landed, with the reason.",
        tuple(Column(name, kind.simpleString(), "") for name, kind in QUARANTINE_COLUMNS),
    )
    return served
