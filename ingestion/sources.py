"""What the lakehouse ingests: each source is a declaration, not a script.

A source names its kind (landing-zone files or a Kafka topic), its format, the fields it must
carry with their types, and the bronze table it lands in. The engine does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from ingestion.config import source_encoding, source_freshness_minutes, source_schema_policy
from ingestion.errors import LakehouseError

FieldType = Literal["string", "long", "double", "decimal", "timestamp", "date", "boolean", "json"]
Kind = Literal["file", "kafka"]
Format = Literal["csv", "combined_log", "json", "xlsx"]
SchemaPolicy = Literal["evolve", "rescue", "strict"]
SCHEMA_POLICIES: tuple[SchemaPolicy, ...] = ("evolve", "rescue", "strict")


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType = "string"
    required: bool = False
    timestamp_format: str | None = None
    """A Spark datetime pattern, when the field is not ISO 8601 (web server logs)."""
    aliases: tuple[str, ...] = ()
    """Other header names the field arrives under (case and spacing are ignored anyway)."""


@dataclass(frozen=True)
class Source:
    name: str
    kind: Kind
    format: Format
    fields: tuple[Field, ...]
    description: str
    topic: str | None = None
    """Kafka topic (kind `kafka`); files come from the landing folder named after the source."""
    sheet: str | None = None
    """Worksheet to read (xlsx); the first one when not set."""
    bad_min_records: int | None = None
    """Fewest bad records that can send a batch to quarantine whole (LAKEHOUSE_INGEST_BAD_MIN when not set)."""
    declared_encoding: str = "utf-8"
    """How the source's text files are encoded (a Python codec name: `cp1252` for French Excel
    CSV exports); `LAKEHOUSE_<SOURCE>_ENCODING` overrides it."""
    freshness_minutes: float | None = None
    """How long the source may go without a new batch before an alert says it is stale (default by
    kind: a topic 5 minutes, exported files a day); `LAKEHOUSE_<SOURCE>_FRESHNESS_MINUTES` overrides it."""

    declared_schema_policy: SchemaPolicy = "rescue"
    """What a field the declaration does not know, or a value of the wrong type, does to a batch
    (`LAKEHOUSE_<SOURCE>_SCHEMA_POLICY` overrides it; see "When a source changes shape" in the README):
    - `rescue`: the record lands; an unknown field, and an optional field whose value does not
      have its type, keep their text in the record's `_rescued` map (nothing is silently nulled);
    - `evolve`: as `rescue`, and every new field also becomes a column of `bronze.<source>`;
    - `strict`: a batch with a field the declaration lacks is quarantined whole, the field named,
      and a value of the wrong type makes its record bad.
    Under every policy a record without a required field is bad, and an optional field may be
    missing (JSON leaves nulls out); the ledger records each batch's shape (`lakehouse schema`)."""

    @property
    def schema_policy(self) -> SchemaPolicy:
        return cast(SchemaPolicy, source_schema_policy(self.name, self.declared_schema_policy, SCHEMA_POLICIES))

    @property
    def kafka_topic(self) -> str:
        """The topic of a Kafka source (a file source has none)."""
        if self.topic is None:
            raise ValueError(f"{self.name} is not a Kafka source")
        return self.topic

    @property
    def freshness_limit_minutes(self) -> float:
        declared = self.freshness_minutes or DEFAULT_FRESHNESS_MINUTES[self.kind]
        return source_freshness_minutes(self.name, declared)

    @property
    def encoding(self) -> str:
        return source_encoding(self.name, self.declared_encoding)

    @property
    def table(self) -> str:
        """The view readers read: the good records of committed batches (see `ingestion/tables.py`)."""
        return f"bronze.{self.name}"

    @property
    def all_records(self) -> str:
        """The Delta table of every record that arrived, good or bad."""
        return f"bronze.{self.name}__all"

    @property
    def required(self) -> list[str]:
        return [field.name for field in self.fields if field.required]


DEFAULT_FRESHNESS_MINUTES: dict[str, float] = {"kafka": 5, "file": 24 * 60}
REFERENCE_FRESHNESS_MINUTES = 30 * 24 * 60
"""Reference workbooks (sites, methods) change a few times a year."""

_LOG_TIME = "dd/MMM/yyyy:HH:mm:ss Z"

SOURCES: dict[str, Source] = {
    source.name: source
    for source in [
        Source(
            name="transactions",
            kind="file",
            format="csv",
            description="CSV exports of the order database, one row per order line.",
            declared_schema_policy="evolve",
            fields=(
                Field("transaction_id", "string", required=True, aliases=("id", "txn_id")),
                Field("customer_id", "string", required=True),
                Field("product_id", "long", required=True),
                Field("quantity", "long", required=True),
                Field("unit_price", "decimal", required=True),
                Field("currency", "string", required=True),
                Field("transaction_at", "timestamp", required=True, aliases=("transaction_timestamp", "timestamp")),
                Field("country", "string"),
                Field("payment_method", "string"),
                Field("status", "string"),
            ),
        ),
        Source(
            name="server_logs",
            kind="file",
            format="combined_log",
            description="Web server access logs (Apache/NGINX combined format), one request per line.",
            declared_schema_policy="strict",
            fields=(
                Field("client_ip", "string", required=True),
                Field("remote_user", "string"),
                Field("requested_at", "timestamp", required=True, timestamp_format=_LOG_TIME),
                Field("request", "string", required=True),
                Field("status", "long", required=True),
                Field("bytes_sent", "long"),
                Field("referrer", "string"),
                Field("user_agent", "string"),
            ),
        ),
        Source(
            name="social_posts",
            kind="file",
            format="json",
            description="Social media posts that mention products (JSON lines or a JSON array).",
            declared_schema_policy="evolve",
            fields=(
                Field("post_id", "string", required=True),
                Field("user_id", "string", required=True),
                Field("product_id", "long"),
                Field("platform", "string", required=True),
                Field("likes", "long"),
                Field("shares", "long"),
                Field("comments", "long"),
                Field("text", "string"),
                Field("posted_at", "timestamp", required=True),
                Field("author", "json"),
                Field("hashtags", "json"),
            ),
        ),
        Source(
            name="water_sites",
            kind="file",
            format="xlsx",
            description="Reference sites of the water-quality monitoring network.",
            declared_schema_policy="strict",
            freshness_minutes=REFERENCE_FRESHNESS_MINUTES,
            fields=(
                Field("site_id", "string", required=True),
                Field("site_name", "string", required=True, aliases=("name",)),
                Field("region", "string"),
                Field("latitude", "double", required=True),
                Field("longitude", "double", required=True),
                Field("water_body_type", "string"),
            ),
        ),
        Source(
            name="water_methods",
            kind="file",
            format="xlsx",
            description="Analytical methods of the water-quality network, with detection limits.",
            declared_schema_policy="strict",
            freshness_minutes=REFERENCE_FRESHNESS_MINUTES,
            fields=(
                Field("method_id", "string", required=True),
                Field("parameter", "string", required=True),
                Field("unit", "string", required=True),
                Field("analytical_method", "string"),
                Field("detection_limit", "double"),
            ),
        ),
        Source(
            name="ad_events",
            kind="kafka",
            format="json",
            topic="ad_events",
            description="Ad campaign impressions and clicks.",
            fields=(
                Field("event_id", "string", required=True),
                Field("campaign_id", "string", required=True),
                Field("ad_id", "string", required=True),
                Field("event_type", "string", required=True),
                Field("user_id", "string"),
                Field("cost", "decimal"),
                Field("event_at", "timestamp", required=True, aliases=("event_timestamp", "timestamp")),
            ),
        ),
        Source(
            name="sales",
            kind="kafka",
            format="json",
            topic="sales",
            description="The real-time sales stream, in the producers' own (French) field names.",
            fields=(
                Field("vente_id", "long", required=True),
                Field("client_id", "long", required=True),
                Field("produit_id", "long", required=True),
                Field("timestamp", "timestamp", required=True),
                Field("quantite", "long", required=True),
                Field("montant", "decimal", required=True),
                Field("client_nom", "string"),
                Field("produit_nom", "string"),
                Field("categorie", "string"),
                Field("pays", "string"),
                Field("segment", "string"),
            ),
        ),
        Source(
            name="water_quality",
            kind="kafka",
            format="json",
            topic="water_quality",
            description="Water-quality measurements uploaded by monitoring stations.",
            fields=(
                Field("sample_id", "string"),
                Field("site_id", "string", required=True),
                Field("method_id", "string", required=True),
                Field("sample_date", "date", required=True),
                Field("parameter", "string", required=True),
                Field("value", "double", required=True),
                Field("unit", "string"),
                Field("flags", "string"),
            ),
        ),
        Source(
            name="device_events",
            kind="kafka",
            format="json",
            topic="device_events",
            description="Events reported by connected devices.",
            fields=(
                Field("device_id", "string", required=True),
                Field("device_type", "string", required=True),
                Field("event_type", "string", required=True),
                Field("value", "double"),
                Field("event_at", "timestamp", required=True, aliases=("event_timestamp", "timestamp")),
            ),
        ),
    ]
}


def get_source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise LakehouseError(
            f"unknown source {name!r}", hint=f"the sources are: {', '.join(sorted(SOURCES))}"
        ) from None
