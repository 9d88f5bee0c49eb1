"""`lakehouse verify`: every gold table recomputed by another engine, and compared.

DuckDB (in process) reads the raw inputs themselves: the landing files as they lie and every
message the topics hold. The rules are written from the models' documentation (descriptions of
the staging, silver and gold models, and of the seeds), not translated from their SQL, so that a
difference points at a bug in one of the two. Workbooks are read with openpyxl and topics with
kafka-python (DuckDB's extensions cannot be downloaded here) and handed to DuckDB.

A record the ingestion quarantines (not text, not a record of its format, a required field
missing, a value of the wrong type) is left out here by rules of its own.
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
from ingestion.config import PROJECT_ROOT, settings
from ingestion.errors import LakehouseError

SEEDS = PROJECT_ROOT / "seeds"
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


# -- rules, from the model documentation ----------------------------------------------------------
HELPERS = r"""
create or replace macro blank(x) as nullif(trim(x), '');
create or replace macro is_int(x) as coalesce(regexp_full_match(trim(x), '[-+]?[0-9]+'), false);
create or replace macro as_decimal(x) as try_cast(regexp_replace(trim(x), '^(-?[0-9]+),([0-9]+)$', '\1.\2') as decimal(18, 4));
create or replace macro as_double(x) as try_cast(regexp_replace(trim(x), '^(-?[0-9]+),([0-9]+)$', '\1.\2') as double);
create or replace macro as_time(x) as try_cast(trim(x) as timestamptz);
create or replace macro jf(doc, name) as json_extract_string(doc, '$."' || name || '"');
-- The countries seed: a country is written as its code, English or French name, any case, stray spaces.
create or replace table aliases as
    select distinct lower(alias) as alias, country_code from (
        select country_code as alias, country_code from seed_countries
        union all select country_name, country_code from seed_countries
        union all select country_name_fr, country_code from seed_countries);
"""

COMMERCE = r"""
-- Exports: required fields present and typed (else quarantined at ingestion), then the business rules.
create or replace table v_transactions as
with typed as (
    select *, blank(transaction_id) as id, blank(customer_id) as ref, as_decimal(unit_price) as price,
        as_time(transaction_at) as placed_at
    from raw_transactions
    where blank(transaction_id) is not null and blank(customer_id) is not null and is_int(product_id)
        and is_int(quantity) and as_decimal(unit_price) is not null and blank(currency) is not null
        and as_time(transaction_at) is not null
),
valid as (
    select typed.*, try_cast(regexp_extract(ref, '^C([0-9]+)$', 1) as bigint) as customer_no,
        try_cast(trim(quantity) as bigint) as qty, try_cast(trim(product_id) as bigint) as product_no,
        upper(trim(currency)) as currency_code, c.eur_per_unit::decimal(12, 6) as rate,
        lower(trim(status)) as line_status,
        coalesce(a.country_code, 'ZZ') as country_code
    from typed
    left join seed_currencies as c on upper(trim(typed.currency)) = c.currency_code
    left join aliases as a on lower(trim(typed.country)) = a.alias
    where regexp_full_match(ref, 'C[0-9]+') and try_cast(trim(quantity) as bigint) > 0 and price >= 0
        and c.currency_code is not null and lower(trim(status)) in ('completed', 'refunded', 'cancelled')
)
select id as transaction_id, customer_no as customer_id, product_no as product_id, qty as quantity,
    round(qty * price, 2) as amount, round(price * rate, 4) as unit_price_eur,
    round(qty * price * rate, 2) as amount_eur, currency_code, placed_at as transaction_at, country_code,
    line_status as status
from valid
qualify row_number() over (partition by id order by file_order, line) = 1;

-- The stream: Paris time unless the time carries an offset; quantity positive, amount not negative.
create or replace table v_sales as
with typed as (
    select partition, "offset", doc, jf(doc, 'timestamp') as ts
    from raw_sales
    where doc is not null and blank(doc) is not null
        and is_int(jf(doc, 'vente_id')) and is_int(jf(doc, 'client_id')) and is_int(jf(doc, 'produit_id'))
        and is_int(jf(doc, 'quantite')) and as_decimal(jf(doc, 'montant')) is not null
        and as_time(jf(doc, 'timestamp')) is not null
),
valid as (
    select *, try_cast(jf(doc, 'vente_id') as bigint) as sale_id, try_cast(jf(doc, 'quantite') as bigint) as qty,
        round(as_decimal(jf(doc, 'montant')), 2) as amount_eur
    from typed
    where try_cast(jf(doc, 'quantite') as bigint) > 0 and as_decimal(jf(doc, 'montant')) >= 0
)
select sale_id, try_cast(jf(doc, 'client_id') as bigint) as customer_id, try_cast(jf(doc, 'produit_id') as bigint) as product_id,
    case when regexp_matches(trim(ts), '(Z|[+-][0-9]{2}:?[0-9]{2})$') then as_time(ts)
        else timezone('Europe/Paris', try_cast(trim(ts) as timestamp)) end as sold_at,
    qty as quantity, amount_eur, half_up(amount_eur::varchar, qty, 4) as unit_price_eur,
    blank(jf(doc, 'client_nom')) as customer_name, blank(jf(doc, 'produit_nom')) as product_name,
    blank(jf(doc, 'categorie')) as category, coalesce(a.country_code, 'ZZ') as country_code,
    coalesce(blank(jf(doc, 'segment')), 'Inconnu') as customer_segment
from valid
left join aliases as a on lower(trim(jf(valid.doc, 'pays'))) = a.alias
qualify row_number() over (partition by sale_id order by partition, "offset") = 1;

create or replace table v_fct_order_lines as
select 'T-' || transaction_id as order_line_id, 'export' as channel, customer_id, product_id,
    transaction_at as ordered_at, try_cast(transaction_at as date) as order_date, quantity, unit_price_eur,
    amount_eur, currency_code, amount, country_code, status, status = 'completed' as is_revenue
from v_transactions
union all
select 'S-' || sale_id, 'stream', customer_id, product_id, sold_at, try_cast(sold_at as date), quantity,
    unit_price_eur, amount_eur, 'EUR', amount_eur, country_code, 'completed', true
from v_sales;

create or replace table v_dim_products as
with sold as (
    select product_id, min(ordered_at) as first_sold_at from v_fct_order_lines group by product_id
),
streamed as (
    select product_id, arg_max(product_name, sold_at) as product_name, arg_max(category, sold_at) as category
    from v_sales group by product_id
)
select ids.product_id,
    coalesce(trim(p.product_name), s.product_name, 'product ' || ids.product_id) as product_name,
    coalesce(trim(p.category), s.category, 'Non classé') as category,
    p.list_price::decimal(18, 2) as list_price, p.currency as list_price_currency_code,
    p.launched_on, p.product_id is not null as is_in_catalogue, sold.first_sold_at
from (select product_id from seed_products union select product_id from sold) as ids
left join seed_products as p on ids.product_id = p.product_id
left join streamed as s on ids.product_id = s.product_id
left join sold on ids.product_id = sold.product_id;

create or replace table v_dim_customers as
with activity as (
    select customer_id, arg_max(country_code, ordered_at) as country_code, min(ordered_at) as first_seen_at,
        max(ordered_at) as last_seen_at, bool_or(channel = 'export') as is_in_exports,
        bool_or(channel = 'stream') as is_in_stream
    from v_fct_order_lines group by customer_id
),
profiles as (
    select customer_id, arg_max(customer_name, sold_at) as customer_name,
        arg_max(customer_segment, sold_at) as customer_segment
    from v_sales group by customer_id
)
select activity.customer_id, coalesce(profiles.customer_name, 'customer ' || activity.customer_id) as customer_name,
    coalesce(profiles.customer_segment, 'Inconnu') as customer_segment, activity.country_code,
    first_seen_at, last_seen_at, is_in_exports, is_in_stream
from activity left join profiles on activity.customer_id = profiles.customer_id;

create or replace table v_agg_sales_by_product_day as
select f.product_id, d.product_name, d.category, f.order_date, count(*) as order_lines,
    sum(f.quantity) as quantity, sum(f.amount_eur) as revenue_eur
from v_fct_order_lines as f join v_dim_products as d on f.product_id = d.product_id
where f.is_revenue group by all;

create or replace table v_agg_sales_by_product as
select f.product_id, d.product_name, d.category, count(*) as order_lines, sum(f.quantity) as quantity,
    sum(f.amount_eur) as revenue_eur, min(f.order_date) as first_sale_date, max(f.order_date) as last_sale_date
from v_fct_order_lines as f join v_dim_products as d on f.product_id = d.product_id
where f.is_revenue group by all;

create or replace table v_agg_spend_by_customer as
select f.customer_id, c.customer_name, c.customer_segment, count(*) as purchase_count,
    sum(f.amount_eur) as total_spend_eur, half_up(sum(f.amount_eur)::varchar, count(*), 2) as avg_basket_eur,
    min(f.ordered_at) as first_purchase_at, max(f.ordered_at) as last_purchase_at,
    count(*) >= getvariable('loyalty_min_purchases') and sum(f.amount_eur) >= getvariable('loyalty_min_spend_eur') as is_loyal
from v_fct_order_lines as f left join v_dim_customers as c on f.customer_id = c.customer_id
where f.is_revenue group by all;

create or replace table v_agg_revenue_by_country_category_segment as
select f.country_code, k.country_name, d.category, c.customer_segment, count(*) as order_lines,
    count(distinct f.customer_id) as customers, sum(f.amount_eur) as revenue_eur
from v_fct_order_lines as f
join v_dim_products as d on f.product_id = d.product_id
join v_dim_customers as c on f.customer_id = c.customer_id
left join seed_countries as k on f.country_code = k.country_code
where f.is_revenue group by all;
"""

OTHERS = r"""
-- Web: a line is identified by its text and its occurrence among identical lines of its file.
create or replace table v_requests as
with parsed as (
    select *, strptime(requested_at, '%d/%b/%Y:%H:%M:%S %z') as request_time,
        regexp_extract(request, '^([A-Z]+) ([^ ]+) (HTTP/[0-9.]+)$', 1) as method,
        try_cast(status as integer) as code
    from raw_logs
    where try_strptime(requested_at, '%d/%b/%Y:%H:%M:%S %z') is not null
)
select raw, occurrence, date_trunc('hour', request_time) as requested_hour, code as status,
    try_cast(floor(code / 100) as bigint) || 'xx' as status_class,
    coalesce(regexp_matches(user_agent, '(?i)(bot|crawler|spider|slurp|curl|wget|python-requests|httpclient|headless)'), false)
        and user_agent != '-' as is_bot,
    case when bytes_sent = '-' then 0 else try_cast(bytes_sent as bigint) end as bytes_sent
from parsed
where method != '' and code between 100 and 599
qualify row_number() over (partition by raw, occurrence order by file_order, line) = 1;

create or replace table v_agg_requests_by_status_hour as
select requested_hour, status, status_class, count(*) as requests, count(*) filter (where is_bot) as bot_requests,
    sum(bytes_sent) as bytes_sent
from v_requests group by all;

create or replace table v_agg_error_rate_by_hour as
select requested_hour, count(*) as requests, count(*) filter (where status_class = '4xx') as client_errors,
    count(*) filter (where status_class = '5xx') as server_errors,
    half_up((count(*) filter (where status_class in ('4xx', '5xx')))::varchar, count(*), 6) as error_rate,
    half_up((count(*) filter (where status_class = '5xx'))::varchar, count(*), 6) as server_error_rate
from v_requests group by all;

-- Marketing: impressions and clicks; a missing cost is 0, a negative one rejects the event.
create or replace table v_ad_events as
with typed as (
    select partition, "offset", doc,
        coalesce(jf(doc, 'event_at'), jf(doc, 'event_timestamp'), jf(doc, 'timestamp')) as at_text
    from raw_ad_events
    where doc is not null
)
select trim(jf(doc, 'event_id')) as event_id, upper(trim(jf(doc, 'campaign_id'))) as campaign_id,
    lower(trim(jf(doc, 'event_type'))) as event_type, coalesce(as_decimal(jf(doc, 'cost')), 0) as cost_eur,
    try_cast(as_time(at_text) as date) as event_date
from typed
where blank(jf(doc, 'event_id')) is not null and blank(jf(doc, 'campaign_id')) is not null
    and blank(jf(doc, 'ad_id')) is not null and blank(jf(doc, 'event_type')) is not null
    and as_time(at_text) is not null
    and (blank(jf(doc, 'cost')) is null or as_decimal(jf(doc, 'cost')) is not null)
    and lower(trim(jf(doc, 'event_type'))) in ('impression', 'click')
    and coalesce(as_decimal(jf(doc, 'cost')), 0) >= 0
qualify row_number() over (partition by trim(jf(doc, 'event_id')) order by partition, "offset") = 1;

create or replace table v_agg_ad_performance_by_campaign_day as
select e.campaign_id, c.campaign_name, e.event_date,
    count(*) filter (where event_type = 'impression') as impressions,
    count(*) filter (where event_type = 'click') as clicks,
    half_up((count(*) filter (where event_type = 'click'))::varchar,
        count(*) filter (where event_type = 'impression'), 6) as click_through_rate,
    round(sum(cost_eur), 2) as cost_eur,
    half_up(sum(cost_eur)::varchar, count(*) filter (where event_type = 'click'), 4) as cost_per_click_eur
from v_ad_events as e left join seed_campaigns as c on e.campaign_id = c.campaign_id
group by all;

-- Social: counters default to 0; an unknown platform or a negative counter rejects the post.
create or replace table v_posts as
with typed as (
    select file_order, position, doc from raw_posts
    where doc is not null and blank(jf(doc, 'post_id')) is not null and blank(jf(doc, 'user_id')) is not null
        and blank(jf(doc, 'platform')) is not null and as_time(jf(doc, 'posted_at')) is not null
        and (blank(jf(doc, 'product_id')) is null or is_int(jf(doc, 'product_id')))
        and (blank(jf(doc, 'likes')) is null or is_int(jf(doc, 'likes')))
        and (blank(jf(doc, 'shares')) is null or is_int(jf(doc, 'shares')))
        and (blank(jf(doc, 'comments')) is null or is_int(jf(doc, 'comments')))
),
counted as (
    select *, trim(jf(doc, 'post_id')) as post_id, try_cast(blank(jf(doc, 'product_id')) as bigint) as product_id,
        coalesce(try_cast(blank(jf(doc, 'likes')) as bigint), 0) as likes,
        coalesce(try_cast(blank(jf(doc, 'shares')) as bigint), 0) as shares,
        coalesce(try_cast(blank(jf(doc, 'comments')) as bigint), 0) as comments
    from typed
)
select post_id, product_id, likes, shares, comments, likes + shares + comments as engagements
from counted
where lower(trim(jf(doc, 'platform'))) in ('twitter', 'instagram', 'facebook', 'tiktok', 'linkedin', 'youtube')
    and likes >= 0 and shares >= 0 and comments >= 0
qualify row_number() over (partition by post_id order by file_order, position) = 1;

create or replace table v_agg_engagement_by_product as
select p.product_id, d.product_name, count(*) as posts,
    half_up(sum(likes)::varchar, count(*), 2) as avg_likes, half_up(sum(shares)::varchar, count(*), 2) as avg_shares,
    half_up(sum(comments)::varchar, count(*), 2) as avg_comments,
    half_up(sum(engagements)::varchar, count(*), 2) as avg_engagements, sum(engagements) as total_engagements
from v_posts as p left join v_dim_products as d on p.product_id = d.product_id
where p.product_id is not null group by all;

-- Water: sites and methods from the newest workbook that lists them; values in the method's unit.
create or replace table v_sites as
select upper(trim(jf(doc, 'site_id'))) as site_id, trim(jf(doc, 'site_name')) as site_name
from raw_sites
where blank(jf(doc, 'site_id')) is not null and blank(jf(doc, 'site_name')) is not null
    and as_double(jf(doc, 'latitude')) between -90 and 90 and as_double(jf(doc, 'longitude')) between -180 and 180
qualify row_number() over (partition by upper(trim(jf(doc, 'site_id'))) order by file_order desc, row_number) = 1;

create or replace table v_methods as
select upper(trim(jf(doc, 'method_id'))) as method_id, lower(trim(jf(doc, 'parameter'))) as parameter,
    trim(jf(doc, 'unit')) as unit, coalesce(as_double(jf(doc, 'detection_limit')), 0) as detection_limit
from raw_methods
where blank(jf(doc, 'method_id')) is not null and blank(jf(doc, 'parameter')) is not null
    and blank(jf(doc, 'unit')) is not null
    and (blank(jf(doc, 'detection_limit')) is null or as_double(jf(doc, 'detection_limit')) >= 0)
qualify row_number() over (partition by upper(trim(jf(doc, 'method_id'))) order by file_order desc, row_number) = 1;

create or replace table v_measurements as
with typed as (
    select r.partition, r."offset", r.doc, m.method_id, m.parameter as method_parameter, m.unit, m.detection_limit,
        s.site_id, lower(trim(jf(r.doc, 'parameter'))) as parameter, as_double(jf(r.doc, 'value')) as reported,
        coalesce(blank(jf(r.doc, 'unit')), m.unit) as reported_unit
    from raw_water_quality as r
    left join v_methods as m on upper(trim(jf(r.doc, 'method_id'))) = m.method_id
    left join v_sites as s on upper(trim(jf(r.doc, 'site_id'))) = s.site_id
    where r.doc is not null and blank(jf(r.doc, 'site_id')) is not null
        and blank(jf(r.doc, 'method_id')) is not null and blank(jf(r.doc, 'parameter')) is not null
        and as_double(jf(r.doc, 'value')) is not null
        and coalesce(try_cast(trim(jf(r.doc, 'sample_date')) as date), try_cast(as_time(jf(r.doc, 'sample_date')) as date)) is not null
),
converted as (
    select *,
        case
            when lower(replace(reported_unit, ' ', '')) = lower(replace(unit, ' ', '')) then reported
            when lower(reported_unit) in ('µg/l', 'ug/l') and lower(unit) = 'mg/l' then reported / 1000
            when lower(reported_unit) = 'mg/l' and lower(unit) in ('µg/l', 'ug/l') then reported * 1000
            when lower(reported_unit) = 'g/l' and lower(unit) = 'mg/l' then reported * 1000
            when reported_unit in ('°F', 'F') and unit = '°C' then (reported - 32) * 5 / 9
            when reported_unit = 'K' and unit = '°C' then reported - 273.15
        end as value,
        coalesce(upper(blank(jf(doc, 'sample_id'))) || '/' || parameter,
            'water_quality/' || partition || '@' || "offset") as measurement_id,
        coalesce(try_cast(trim(jf(doc, 'sample_date')) as date), try_cast(as_time(jf(doc, 'sample_date')) as date)) as sample_date
    from typed
    where site_id is not null and method_id is not null and parameter = method_parameter
)
select c.* from converted as c
left join seed_water_quality_ranges as r on c.parameter = r.parameter and c.unit = r.unit
where value is not null and not (value < 0 and c.parameter != 'temperature')
    and (r.parameter is null or value between r.min_value and r.max_value)
qualify row_number() over (partition by measurement_id order by partition, "offset") = 1;

create or replace table v_agg_water_quality_by_site_parameter_month as
select m.site_id, s.site_name, m.method_id, m.parameter, m.unit, date_trunc('month', m.sample_date)::date as sample_month,
    count(*) as samples, half_up(sum(m.value::decimal(38, 12))::varchar, count(*), 4) as mean_value,
    min(m.value) as min_value, max(m.value) as max_value,
    count(*) filter (where m.value < m.detection_limit) as samples_below_detection_limit,
    max(t.lower_threshold_value) as lower_threshold_value, max(t.threshold_value) as threshold_value,
    count(*) filter (where m.value < t.lower_threshold_value) as samples_under_threshold,
    count(*) filter (where m.value > t.threshold_value) as samples_over_threshold,
    case when max(t.threshold_value) is not null
        then half_up((count(*) filter (where m.value > t.threshold_value))::varchar, count(*), 4) end as share_over_threshold,
    case when max(t.threshold_value) is not null or max(t.lower_threshold_value) is not null
        then half_up((count(*) filter (where m.value > t.threshold_value or m.value < t.lower_threshold_value))::varchar,
                     count(*), 4) end as share_outside_thresholds
from v_measurements as m
join v_sites as s on m.site_id = s.site_id
left join seed_water_quality_thresholds as t on m.parameter = t.parameter and m.unit = t.unit
group by all;

-- Devices: an event is its device, type and time.
create or replace table v_device_events as
with typed as (
    select partition, "offset", doc,
        as_time(coalesce(jf(doc, 'event_at'), jf(doc, 'event_timestamp'), jf(doc, 'timestamp'))) as event_at
    from raw_device_events
    where doc is not null and blank(jf(doc, 'device_id')) is not null
        and blank(jf(doc, 'device_type')) is not null and blank(jf(doc, 'event_type')) is not null
        and (blank(jf(doc, 'value')) is null or as_double(jf(doc, 'value')) is not null)
)
select upper(trim(jf(doc, 'device_id'))) as device_id, lower(trim(jf(doc, 'device_type'))) as device_type,
    lower(trim(jf(doc, 'event_type'))) as event_type, as_double(jf(doc, 'value')) as value, event_at
from typed where event_at is not null
qualify row_number() over (
    partition by upper(trim(jf(doc, 'device_id'))), lower(trim(jf(doc, 'event_type'))), event_at
    order by partition, "offset") = 1;

create or replace table v_agg_device_events_by_type_minute as
select date_trunc('minute', event_at) as event_minute, device_type, event_type, count(*) as events,
    count(distinct device_id) as devices, half_up(sum(value::decimal(38, 12))::varchar, count(value), 3) as avg_value
from v_device_events group by all;
"""


def recompute(con) -> None:
    for name, value in _vars().items():
        con.execute(f"set variable {name} = {float(value)}")
    con.execute(HELPERS)
    con.execute(COMMERCE)
    con.execute(OTHERS)


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
