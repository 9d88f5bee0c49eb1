"""`lakehouse verify`: every gold table recomputed by another engine, and compared.

DuckDB (in process) reads the raw inputs themselves: the landing files as they lie and every
message the topics hold. The rules are written from the models' documentation (descriptions of
the staging, silver and gold models, and of the seeds), not translated from their SQL, so that a
difference points at a bug in one of the two. The rules are DuckDB SQL, one file per domain in `sql/`. Workbooks are read with openpyxl and topics with
kafka-python (DuckDB's extensions cannot be downloaded here) and handed to DuckDB.

A record the ingestion quarantines (not text, not a record of its format, a required field
missing, a value of the wrong type where the source's declared schema policy refuses it) is left
out here by rules of its own.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from ingestion import storage
from ingestion.config import PROJECT_ROOT
from ingestion.errors import LakehouseError
from lakehouse.settings import settings

SEEDS = PROJECT_ROOT / "seeds"
SQL = Path(__file__).parent / "sql"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class GoldTable:
    name: str
    key: tuple[str, ...]


GOLD = [
    GoldTable("dim_products", ("product_id",)),
    GoldTable("dim_customers", ("customer_id",)),
    GoldTable("fct_order_lines", ("order_line_id",)),
    GoldTable("agg_sales_by_product_day", ("product_id", "order_date")),
    GoldTable("agg_sales_by_product", ("product_id",)),
    GoldTable("agg_spend_by_customer", ("customer_id",)),
    GoldTable("agg_revenue_by_country_category_segment", ("country_code", "category", "customer_segment")),
    GoldTable("agg_ad_performance_by_campaign_day", ("campaign_id", "event_date")),
    GoldTable("agg_requests_by_status_hour", ("requested_hour", "status")),
    GoldTable("agg_error_rate_by_hour", ("requested_hour",)),
    GoldTable("agg_engagement_by_product", ("product_id",)),
    GoldTable(
        "agg_water_quality_by_site_parameter_month", ("site_id", "method_id", "parameter", "unit", "sample_month")
    ),
    GoldTable("agg_device_events_by_type_minute", ("event_minute", "device_type", "event_type")),
]


def half_up(numerator: str | None, denominator: int | None, digits: int) -> float | None:
    """numerator / denominator, rounded half up to `digits` decimals, exactly (the docs' rounding)."""
    if numerator is None or not denominator:
        return None
    quotient = Decimal(numerator) / Decimal(denominator)
    return float(quotient.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def connect_duckdb():
    try:
        import duckdb
    except ImportError:
        raise LakehouseError(
            "`lakehouse verify` needs DuckDB", hint="pip install -e '.[verify]' (make install includes it)"
        ) from None
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.create_function("half_up", half_up, ["VARCHAR", "BIGINT", "INTEGER"], "DOUBLE", null_handling="special")
    return con


# -- raw inputs ---------------------------------------------------------------------------------
def _files(source: str) -> list[Path]:
    """A source's landing files in the order the ingestion reads them (by name)."""
    landing = storage.folder(settings().landing)
    if not isinstance(landing, storage.LocalFolder):
        raise LakehouseError(
            f"`lakehouse verify` reads the raw inputs with DuckDB from the local disk; the landing zone is {landing.url}",
            hint="run it against a lakehouse in local mode",
        )
    folder = landing.path / source
    if not folder.exists():
        return []
    return sorted((p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")), key=lambda p: str(p))


def _text_lines(path: Path) -> list[str] | None:
    """The file's lines (ended by LF, CRLF or CR), or None when it cannot be read whole as text."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError):
        return None
    if not data or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None
    if sum(1 for b in data[:65536] if b < 32 and b not in (9, 10, 13)) >= 0.05 * min(len(data), 65536):
        return None
    text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    lines = re.split(r"\r\n|\n|\r", text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def _is_text(value: str) -> bool:
    return not _CONTROL.search(value) and not any("\udc80" <= ch <= "\udcff" for ch in value)


_HEADER_ALIASES = {"id": "transaction_id", "txn_id": "transaction_id", "transaction_timestamp": "transaction_at",
                   "timestamp": "transaction_at"}  # fmt: skip
TRANSACTION_FIELDS = ["transaction_id", "customer_id", "product_id", "quantity", "unit_price", "currency",
                      "transaction_at", "country", "payment_method", "status"]  # fmt: skip


def transaction_rows() -> Iterator[tuple]:
    """(file order, line, field texts...) of every CSV record with the header's column count."""
    import csv

    for order, path in enumerate(_files("transactions")):
        lines = _text_lines(path)
        if not lines:
            continue
        delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
        header = [
            re.sub(r"[^0-9a-z]+", "_", h.strip().lower()).strip("_")
            for h in next(csv.reader([lines[0]], delimiter=delimiter))
        ]
        header = [_HEADER_ALIASES.get(h, h) for h in header]
        reader = csv.reader((line + "\n" for line in lines[1:]), delimiter=delimiter)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error:  # a field over the csv module's limit: that record is quarantined
                continue
            if len(row) != len(header) or not all(_is_text(v) for v in row):
                continue
            record = dict(zip(header, row, strict=True))
            yield (order, reader.line_num, *[record.get(field) for field in TRANSACTION_FIELDS])


_LOG_LINE = re.compile(
    r'^(\S+) \S+ (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?\s*$'
)


def log_rows() -> Iterator[tuple]:
    """(file, file order, line number, occurrence of the line in its file, line, fields...)."""
    for order, path in enumerate(_files("server_logs")):
        lines = _text_lines(path)
        if lines is None:
            continue
        seen: dict[str, int] = {}
        for number, line in enumerate(lines, start=1):
            if not line.strip() or not _is_text(line):
                continue
            match = _LOG_LINE.match(line)
            if not match:
                continue
            seen[line] = seen.get(line, 0) + 1
            yield (path.name, order, number, seen[line], line, *match.groups())


def json_records(source: str) -> Iterator[tuple]:
    """(file order, position, JSON text) of every element of JSON-lines files and JSON arrays."""
    for order, path in enumerate(_files(source)):
        lines = _text_lines(path)
        if lines is None:
            continue
        text = "\n".join(lines)
        if text.lstrip().startswith("["):
            try:
                elements = json.loads(text)
            except json.JSONDecodeError:
                elements = _leading_elements(text)
            for position, element in enumerate(elements):
                yield (order, position, json.dumps(element, ensure_ascii=False))
        else:
            for position, line in enumerate(lines):
                if line.strip() and _is_text(line):
                    yield (order, position, line.strip())


def _leading_elements(text: str) -> list:
    """The complete elements at the start of a truncated JSON array."""
    decoder, elements, at = json.JSONDecoder(), [], text.index("[") + 1
    while True:
        at = len(text) - len(text[at:].lstrip(" \t\r\n,"))
        try:
            element, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            return elements
        elements.append(element)


def workbook_rows(source: str) -> Iterator[tuple]:
    """(file order, row number, JSON of the row by normalised header) of every workbook row."""
    from openpyxl import load_workbook

    for order, path in enumerate(_files(source)):
        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 (a damaged workbook is skipped, as the ingestion does)
            continue
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            header = [re.sub(r"[^0-9a-z]+", "_", str(h or "").strip().lower()).strip("_") for h in next(rows, ())]
            header = ["site_name" if h == "name" else h for h in header]
            for number, row in enumerate(rows, start=2):
                values = {h: _cell(v) for h, v in zip(header, row, strict=False)}
                if any(v is not None for v in values.values()):
                    yield (order, number, json.dumps(values, ensure_ascii=False))
        finally:
            workbook.close()


def _cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() or None


def topic_messages(topic: str) -> Iterator[tuple]:
    """(partition, offset, value as text or None when it is not UTF-8) of every message the topic holds."""
    from kafka import TopicPartition

    from ingestion import kafka_client

    consumer = kafka_client.consumer()
    try:
        for partition, (begin, end) in sorted(kafka_client.partition_offsets(consumer, topic).items()):
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, begin)
            while consumer.position(tp) < end:
                for message in consumer.poll(timeout_ms=2000).get(tp, []):
                    if message.offset >= end:
                        break
                    try:
                        value = None if message.value is None else message.value.decode("utf-8")
                    except UnicodeDecodeError:
                        value = None
                    yield (partition, message.offset, value)
    finally:
        consumer.close()


# -- loading -------------------------------------------------------------------------------------
INTEGER_COLUMNS = ("file_order", "line", "occurrence", "position", "row_number", "partition", "offset")


def read_inputs() -> dict[str, tuple[list[str], list[tuple]]]:
    """Every raw input as rows of texts (and positions), by the DuckDB table it becomes."""
    tables = {
        "raw_transactions": (["file_order", "line", *TRANSACTION_FIELDS], list(transaction_rows())),
        "raw_logs": (
            ["file", "file_order", "line", "occurrence", "raw", "client_ip", "remote_user", "requested_at", "request",
             "status", "bytes_sent", "referrer", "user_agent"],
            list(log_rows()),
        ),
        "raw_posts": (["file_order", "position", "doc"], list(json_records("social_posts"))),
        "raw_sites": (["file_order", "row_number", "doc"], list(workbook_rows("water_sites"))),
        "raw_methods": (["file_order", "row_number", "doc"], list(workbook_rows("water_methods"))),
    }  # fmt: skip
    for topic in ("sales", "ad_events", "water_quality", "device_events"):
        tables[f"raw_{topic}"] = (["partition", "offset", "doc"], list(topic_messages(topic)))
    for name in [name for name in tables if name not in ("raw_transactions", "raw_logs")]:
        columns, rows = tables[name]
        tables[name] = (columns, [(*row[:-1], _object_or_none(row[-1])) for row in rows])
    return tables


def load_inputs(con, tables: dict[str, tuple[list[str], list[tuple]]]) -> None:
    """The raw inputs as DuckDB tables (through Arrow: an insert per row costs DuckDB about 0.5 ms), and the seeds."""
    import pyarrow as pa

    for name, (columns, rows) in tables.items():
        values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
        arrow = pa.table(
            {
                column: pa.array(column_values, pa.int64() if column in INTEGER_COLUMNS else pa.string())
                for column, column_values in zip(columns, values, strict=True)
            }
        )
        con.register("raw_arrow", arrow)
        con.execute(f"create or replace table {name} as select * from raw_arrow")
        con.unregister("raw_arrow")
    for seed in (
        "products",
        "campaigns",
        "countries",
        "currencies",
        "water_quality_thresholds",
        "water_quality_ranges",
    ):
        con.execute(
            f"create or replace table seed_{seed} as select * from read_csv('{SEEDS / seed}.csv', header = true)"
        )


def _object_or_none(doc: str | None) -> str | None:
    """The JSON text when it is a JSON object; None for anything the ingestion quarantines as not one."""
    try:
        return doc if doc is not None and isinstance(json.loads(doc), dict) else None
    except json.JSONDecodeError:
        return None


def _vars() -> dict[str, float]:
    import yaml

    project = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())
    return project.get("vars", {})


# -- rules, from the model documentation (one file per domain in sql/, run in this order) -----------
RULES = ["helpers.sql", "commerce.sql", "web.sql", "marketing.sql", "social.sql", "water.sql", "devices.sql"]


def recompute(con) -> None:
    for name, value in _vars().items():
        con.execute(f"set variable {name} = {float(value)}")
    for name in RULES:
        con.execute((SQL / name).read_text())


# -- comparison -------------------------------------------------------------------------------------
@dataclass
class Comparison:
    table: str
    gold_rows: int
    recomputed_rows: int
    equal: int
    different: int
    only_in_gold: int
    only_recomputed: int
    examples: list[str]

    @property
    def agrees(self) -> bool:
        return self.different == self.only_in_gold == self.only_recomputed == 0


def _normalised(column: str, duck_type: str, side: str) -> str:
    """A column of one side as a comparable value (timestamps as UTC instants, numbers as doubles)."""
    ref = f'{side}."{column}"'
    if "TIMESTAMP" in duck_type:
        return f"cast({ref} as timestamptz)"
    if duck_type.startswith(("DECIMAL", "DOUBLE", "FLOAT", "BIGINT", "INTEGER", "HUGEINT")):
        return f"cast({ref} as double)"
    return f"cast({ref} as varchar)"


def compare(con, spark, table: GoldTable) -> Comparison:
    con.register("gold_arrow", spark.table(f"gold.{table.name}").toArrow())
    con.execute("create or replace table g as select * from gold_arrow")
    con.unregister("gold_arrow")
    types = {row[0]: row[1] for row in con.execute(f"describe v_{table.name}").fetchall()}
    gold_columns = {row[0] for row in con.execute("describe g").fetchall()}
    columns = [c for c in types if c in gold_columns]
    keys = " and ".join(f"{_normalised(k, types[k], 'g')} = {_normalised(k, types[k], 'v')}" for k in table.key)
    same = []
    for c in columns:
        g, v = _normalised(c, types[c], "g"), _normalised(c, types[c], "v")
        if "double" in g:
            same.append(f"(({g} is null and {v} is null) or abs({g} - {v}) <= 1e-9 * greatest(1, abs({v})))")
        else:
            same.append(f"({g} is not distinct from {v})")
    equal = " and ".join(same)
    first_key = f'"{table.key[0]}"'
    counts = con.execute(
        f"""
        select count(g.{first_key}), count(v.{first_key}),
            count(*) filter (where g.{first_key} is not null and v.{first_key} is not null and {equal}),
            count(*) filter (where g.{first_key} is not null and v.{first_key} is not null and not ({equal})),
            count(*) filter (where v.{first_key} is null), count(*) filter (where g.{first_key} is null)
        from g full outer join v_{table.name} as v on {keys}
        """
    ).fetchone()
    differing = [f"coalesce(case when not {s} then '{c}: ' || coalesce({_normalised(c, types[c], 'g')}::varchar, 'null') "
                 f"|| ' (gold) vs ' || coalesce({_normalised(c, types[c], 'v')}::varchar, 'null') || '; ' end, '')"
                 for c, s in zip(columns, same, strict=True)]  # fmt: skip
    key_text = " || '/' || ".join(f'coalesce(g."{k}"::varchar, v."{k}"::varchar, \'null\')' for k in table.key)
    examples = [
        row[0]
        for row in con.execute(
            f"""
            select {key_text} || ': ' || case when g.{first_key} is null then 'only recomputed'
                when v.{first_key} is null then 'only in gold' else {" || ".join(differing)} end
            from g full outer join v_{table.name} as v on {keys}
            where g.{first_key} is null or v.{first_key} is null or not ({equal})
            limit 3
            """
        ).fetchall()
    ]
    return Comparison(table.name, *counts, examples)


def verify(spark, timings: dict[str, float] | None = None) -> list[Comparison]:
    """Every gold table compared with its recomputation; `timings` receives the seconds of each stage."""
    timings = {} if timings is None else timings
    missing = [t.name for t in GOLD if not spark.catalog.tableExists(f"gold.{t.name}")]
    if missing:
        raise LakehouseError(
            f"gold has no {', '.join(missing)} yet: nothing to compare", hint="build it first: `lakehouse run`"
        )
    con = connect_duckdb()
    with timed(timings, "raw inputs read"):
        inputs = read_inputs()
    with timed(timings, "loaded into DuckDB"):
        load_inputs(con, inputs)
    with timed(timings, "gold recomputed"):
        recompute(con)
    with timed(timings, "gold read from Spark and compared"):
        return [compare(con, spark, table) for table in GOLD]


@contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = time.perf_counter() - started


def report(comparisons: list[Comparison]) -> str:
    header = ("gold table", "gold rows", "recomputed", "equal", "different", "only gold", "only recomputed")
    rows = [header] + [
        (c.table, c.gold_rows, c.recomputed_rows, c.equal, c.different, c.only_in_gold, c.only_recomputed)
        for c in comparisons
    ]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True))) for row in rows]  # fmt: skip
    for c in comparisons:
        lines += [f"  {c.table}: {example}" for example in c.examples]
    return "\n".join(lines)
