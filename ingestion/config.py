"""The ingestion library's settings, read from the environment once, with local defaults: where
Kafka, the Spark server and the landing zone are, and how batches are cut and judged.

The application's own settings (the services it starts, serving, alerts) extend these in
`lakehouse/settings.py`. Between them, these two modules are the only readers of `LAKEHOUSE_*`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

from ingestion.errors import LakehouseError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

N = TypeVar("N", int, float)


def env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def env_number(name: str, default: N) -> N:
    """A number from the environment, of the default's type; a clear error when it is not one."""
    raw = env(name, str(default))
    try:
        return type(default)(raw)
    except ValueError:
        kind = "an integer" if isinstance(default, int) else "a number"
        raise LakehouseError(f"{name}={raw!r} is not {kind}", hint=f"unset it for the default, {default}") from None


def env_flag(name: str, default: bool) -> bool:
    raw = env(name, "true" if default else "false").lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise LakehouseError(
            f"{name}={raw!r} is not true or false", hint=f"unset it for the default, {str(default).lower()}"
        )
    return raw in ("true", "1", "yes")


def secret(name: str, kept_in: Path, made_once: bool) -> str:
    """A credential: the environment variable `name`; else, when `made_once`, the file `kept_in`,
    written with a random one the first time (readable by this account only); else empty."""
    configured = env(name, "")
    if configured or not made_once:
        return configured
    if not kept_in.exists():
        kept_in.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        written = kept_in.with_name(f".{kept_in.name}.{os.getpid()}")
        with os.fdopen(os.open(written, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(secrets.token_urlsafe(24))
        try:
            os.link(written, kept_in)  # whole, and only if no other process made it first
        except FileExistsError:
            pass
        finally:
            written.unlink()
    return kept_in.read_text().strip()


def env_choice(name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first is the default); a clear error otherwise."""
    value = env(name, choices[0])
    if value not in choices:
        raise LakehouseError(f"{name}={value!r} is not one of {', '.join(choices)}", hint=f"unset it for {choices[0]}")
    return value


MODES = ("local", "cluster")
KAFKA_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class Settings:
    mode: str
    """`local`: one Kafka broker, Spark in the server's own JVM, an embedded Derby metastore. `cluster`:
    a three-broker Kafka cluster, a Spark standalone master with workers running the server's
    executors, and the Hive metastore in PostgreSQL; every process started by `lakehouse up`."""
    home: Path
    """The data home: warehouse, metastore, Kafka data, landing zone, logs and pid files."""

    kafka_host: str
    kafka_port: int
    kafka_brokers: int
    """Brokers `lakehouse up` starts (broker n listens on kafka_port + 2n); topics are replicated to
    up to three of them."""
    kafka_bootstrap_servers: str
    """host:port,… of an existing Kafka cluster (empty: the brokers `lakehouse up` starts)."""
    kafka_security_protocol: str
    """PLAINTEXT, or SASL_PLAINTEXT / SASL_SSL with a user (the project's own brokers: SASL_PLAINTEXT
    with PLAIN, the user and password being the only account)."""
    kafka_sasl_mechanism: str
    kafka_username: str
    kafka_password: str

    spark_host: str
    connect_port: int
    """Spark Connect, through which the ingestion writes."""
    spark_token: str
    """The Spark server's credential: Spark Connect's bearer token, and the password of the service
    user `lakehouse` on Thrift. Empty: both doors open (local mode's default). Cluster mode always
    has one: LAKEHOUSE_SPARK_TOKEN, else one made once in the data home's `secrets/`."""
    postgres_port: int
    """The PostgreSQL the project starts under the data home; cluster mode keeps the metastore there."""
    postgres_password: str
    """The password of that PostgreSQL's superuser, checked with SCRAM when set (as `spark_token`:
    LAKEHOUSE_POSTGRES_PASSWORD, else made once in cluster mode; empty: trust on 127.0.0.1)."""
    spark_metastore_url: str
    metastore_user: str
    metastore_password: str
    """The metastore database's user and password (a PostgreSQL metastore; by default the project's own
    PostgreSQL's superuser)."""
    hdfs_port: int
    """The NameNode's RPC port (`hdfs://127.0.0.1:<port>/` in cluster mode)."""
    hdfs_http_port: int
    """The NameNode's HTTP port: its web UI, and WebHDFS, through which Python reads and writes HDFS."""
    spark_warehouse: str
    """Where the Delta tables live: a local folder or any file system URL Spark reads (hdfs://…)."""
    landing: str
    """The landing zone (a folder per source): a local folder or hdfs://…."""
    staging: str
    """Where batches split in Python wait, as Parquet, for the Spark server: a folder it can read."""

    ingest_batch_rows: int
    ingest_batch_messages: int
    ingest_bad_share_threshold: float
    ingest_bad_min_records: int
    ingest_settle_seconds: float
    crash_at: str
    """Fault injection for the exactly-once tests: the crash point where a writer dies as `kill -9` would."""

    @property
    def kafka_ports(self) -> list[int]:
        return [self.kafka_port + 2 * n for n in range(self.kafka_brokers)]

    @property
    def kafka_bootstrap(self) -> str:
        if self.kafka_bootstrap_servers:
            return self.kafka_bootstrap_servers
        return ",".join(f"{self.kafka_host}:{port}" for port in self.kafka_ports)

    @property
    def kafka_sasl(self) -> bool:
        return self.kafka_security_protocol.startswith("SASL_")

    @property
    def metastore_in_postgres(self) -> bool:
        return self.spark_metastore_url.startswith("jdbc:postgresql:")

    @property
    def spark_connect_url(self) -> str:
        return f"sc://{self.spark_host}:{self.connect_port}"

    @property
    def secrets_dir(self) -> Path:
        """Credentials made by the project (cluster mode), readable by this account only."""
        return self.home / "secrets"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"


def library_settings_from_environment() -> dict:
    """The library's settings as keyword arguments of `Settings` (and of the application's, which extend it)."""
    mode = env_choice("LAKEHOUSE_MODE", MODES)
    cluster = mode == "cluster"
    home = Path(env("LAKEHOUSE_HOME", str(PROJECT_ROOT / ".lakehouse"))).resolve()
    postgres_port = env_number("LAKEHOUSE_POSTGRES_PORT", 5433)
    secrets_dir = home / "secrets"  # Settings.secrets_dir
    postgres_password = secret("LAKEHOUSE_POSTGRES_PASSWORD", secrets_dir / "postgres.password", made_once=cluster)
    hdfs_port = env_number("LAKEHOUSE_HDFS_PORT", 8020)
    derby = f"jdbc:derby:;databaseName={home / 'metastore' / 'metastore_db'};create=true"
    # Cluster mode keeps every file on HDFS; local mode under the data home.
    files = f"hdfs://127.0.0.1:{hdfs_port}" if cluster else str(home)
    return dict(
        mode=mode,
        home=home,
        kafka_host=env("LAKEHOUSE_KAFKA_HOST", "127.0.0.1"),
        kafka_port=env_number("LAKEHOUSE_KAFKA_PORT", 9092),
        kafka_brokers=env_number("LAKEHOUSE_KAFKA_BROKERS", 3 if cluster else 1),
        kafka_bootstrap_servers=env("LAKEHOUSE_KAFKA_BOOTSTRAP", ""),
        kafka_security_protocol=env_choice("LAKEHOUSE_KAFKA_SECURITY_PROTOCOL", KAFKA_PROTOCOLS),
        kafka_sasl_mechanism=env_choice("LAKEHOUSE_KAFKA_SASL_MECHANISM", KAFKA_MECHANISMS),
        kafka_username=env("LAKEHOUSE_KAFKA_USERNAME", ""),
        kafka_password=env("LAKEHOUSE_KAFKA_PASSWORD", ""),
        spark_host=env("LAKEHOUSE_SPARK_HOST", "127.0.0.1"),
        connect_port=env_number("LAKEHOUSE_CONNECT_PORT", 15002),
        spark_token=secret("LAKEHOUSE_SPARK_TOKEN", secrets_dir / "spark.token", made_once=cluster),
        postgres_port=postgres_port,
        postgres_password=postgres_password,
        spark_metastore_url=env(
            "LAKEHOUSE_METASTORE_URL",
            f"jdbc:postgresql://127.0.0.1:{postgres_port}/metastore" if cluster else derby,
        ),
        metastore_user=env("LAKEHOUSE_METASTORE_USER", "lakehouse"),
        metastore_password=env("LAKEHOUSE_METASTORE_PASSWORD", postgres_password),
        hdfs_port=hdfs_port,
        hdfs_http_port=env_number("LAKEHOUSE_HDFS_HTTP_PORT", 9870),
        spark_warehouse=env("LAKEHOUSE_SPARK_WAREHOUSE", f"{files}/warehouse"),
        landing=env("LAKEHOUSE_LANDING", f"{files}/landing"),
        staging=env("LAKEHOUSE_STAGING", f"{files}/staging"),
        ingest_batch_rows=env_number("LAKEHOUSE_INGEST_BATCH_ROWS", 100_000),
        ingest_batch_messages=env_number("LAKEHOUSE_INGEST_BATCH_MESSAGES", 1_000_000),
        ingest_bad_share_threshold=env_number("LAKEHOUSE_INGEST_BAD_SHARE", 0.2),
        ingest_bad_min_records=env_number("LAKEHOUSE_INGEST_BAD_MIN", 10),
        ingest_settle_seconds=env_number("LAKEHOUSE_INGEST_SETTLE_SECONDS", 5.0),
        crash_at=env("LAKEHOUSE_CRASH_AT", ""),
    )


@cache
def settings() -> Settings:
    return Settings(**library_settings_from_environment())


def source_freshness_minutes(source_name: str, declared: float) -> float:
    """How long a source may go without a batch: `LAKEHOUSE_<SOURCE>_FRESHNESS_MINUTES`, else its declaration."""
    return env_number(f"LAKEHOUSE_{source_name.upper()}_FRESHNESS_MINUTES", float(declared))


def source_schema_policy(source_name: str, declared: str, policies: tuple[str, ...]) -> str:
    """A source's schema policy: `LAKEHOUSE_<SOURCE>_SCHEMA_POLICY`, else its declaration."""
    name = f"LAKEHOUSE_{source_name.upper()}_SCHEMA_POLICY"
    policy = env(name, declared).strip().lower()
    if policy not in policies:
        raise LakehouseError(f"{name}={policy!r} is not a schema policy", hint=f"one of: {', '.join(policies)}")
    return policy


def source_encoding(source_name: str, declared: str) -> str:
    """The text encoding of a source's files: `LAKEHOUSE_<SOURCE>_ENCODING`, else its declaration."""
    import codecs

    name = f"LAKEHOUSE_{source_name.upper()}_ENCODING"
    encoding = env(name, declared)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise LakehouseError(
            f"{name}={encoding!r} is not an encoding Python knows", hint="for example utf-8 or cp1252"
        ) from None
    return encoding
