"""Every setting of the lakehouse, read from the environment once, with local defaults.

This is the only module that reads `LAKEHOUSE_*` variables; everything else asks `settings()`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

from ingestion.errors import LakehouseError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

N = TypeVar("N", int, float)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_number(name: str, default: N) -> N:
    """A number from the environment, of the default's type; a clear error when it is not one."""
    raw = _env(name, str(default))
    try:
        return type(default)(raw)
    except ValueError:
        kind = "an integer" if isinstance(default, int) else "a number"
        raise LakehouseError(f"{name}={raw!r} is not {kind}", hint=f"unset it for the default, {default}") from None


def _env_flag(name: str, default: bool) -> bool:
    raw = _env(name, "true" if default else "false").lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise LakehouseError(
            f"{name}={raw!r} is not true or false", hint=f"unset it for the default, {str(default).lower()}"
        )
    return raw in ("true", "1", "yes")


def _env_choice(name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first is the default); a clear error otherwise."""
    value = _env(name, choices[0])
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
    cache: Path
    """Downloaded jars and the Maven repository; survives `lakehouse clean` unless asked."""
    maven_mirror: str
    """A Maven repository URL to use instead of Maven Central (empty: Maven's own settings)."""

    kafka_host: str
    kafka_port: int
    kafka_controller_port: int
    kafka_brokers: int
    """Brokers `lakehouse up` starts (broker n listens on kafka_port + 2n, its controller on
    kafka_controller_port + 2n); topics are replicated to up to three of them."""
    kafka_heap: str
    kafka_version: str
    kafka_bootstrap_servers: str
    """host:port,… of an existing Kafka cluster (empty: the brokers `lakehouse up` starts)."""
    kafka_security_protocol: str
    """PLAINTEXT, or SASL_PLAINTEXT / SASL_SSL with a user (the project's own brokers: SASL_PLAINTEXT
    with PLAIN, the user and password being the only account)."""
    kafka_sasl_mechanism: str
    kafka_username: str
    kafka_password: str

    spark_host: str
    thrift_port: int
    connect_port: int
    spark_ui_port: int
    spark_master: str
    spark_master_port: int
    """The standalone master of cluster mode (its web UI on spark_master_ui_port, worker n's on + 1 + n)."""
    spark_master_ui_port: int
    spark_workers: int
    spark_worker_cores: int
    spark_worker_memory: str
    spark_driver_memory: str
    spark_warehouse: str
    """Where the Delta tables live: a local folder or any file system URL Spark reads (hdfs://…)."""
    landing: str
    """The landing zone (a folder per source): a local folder or hdfs://…."""
    staging: str
    """Where batches split in Python wait, as Parquet, for the Spark server: a folder it can read."""
    spark_metastore_url: str
    metastore_user: str
    """The metastore database's user (a PostgreSQL metastore; the project's own has no password)."""
    spark_shuffle_partitions: int
    delta_version: str
    spark_kafka_connector_version: str
    """org.apache.spark:spark-sql-kafka-0-10: the server reads Kafka offset ranges with it."""

    docs_port: int
    """The dbt docs site (`lakehouse docs`)."""
    dagster_port: int
    """The Dagster UI (`lakehouse ui`)."""

    hdfs_port: int
    """The NameNode's RPC port (`hdfs://127.0.0.1:<port>/` in cluster mode)."""
    hdfs_http_port: int
    """The NameNode's HTTP port: its web UI, and WebHDFS, through which Python reads and writes HDFS."""
    hdfs_datanode_port: int
    """The DataNode's data transfer port; its IPC port is the next one, its HTTP port the one after."""

    s3_port: int
    """The project's own S3 server (SeaweedFS), started when the warehouse is `s3a://…` on it; its
    internal servers take the next seven ports."""
    s3_endpoint: str
    """The S3 endpoint of an `s3a://` warehouse (default: the project's own server)."""
    s3_access_key: str
    s3_secret_key: str
    """Credentials for the endpoint; empty for the project's own server, which makes its own."""

    postgres_port: int
    """The PostgreSQL the project starts under the data home (`lakehouse postgres start`)."""
    postgres_url: str
    """Where gold is published: empty for the project's own PostgreSQL, or a libpq URL of an existing one."""
    publish_after_build: bool
    """Whether Dagster's sensor `published_follows_gold` runs from the start (publishing after each build)."""
    api_port: int
    """The read-only REST API (`lakehouse api`)."""
    api_token: str
    """When set, the REST API answers only requests carrying `Authorization: Bearer <token>`."""
    dashboard_port: int
    """The Streamlit dashboard (`lakehouse dashboard`)."""

    start_timeout_s: int

    dbt_target: str
    """The profiles.yml output dbt builds with, from the CLI and from Dagster alike."""

    ingest_batch_rows: int
    ingest_batch_messages: int
    ingest_bad_share_threshold: float
    ingest_bad_min_records: int
    ingest_settle_seconds: float
    vacuum_retain_hours: float
    """The history VACUUM keeps (`lakehouse maintain`): Delta's own default, 7 days, protects queries
    still reading an older version."""
    alert_webhook: str
    """Where alerts are POSTed as JSON, when set (`lakehouse.operations.alerts`)."""
    alert_bad_share: float
    """A batch with more bad records than this share raises an alert (below the share that quarantines it whole)."""

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
    def kafka_replication(self) -> int:
        return min(3, self.kafka_brokers)

    @property
    def kafka_min_insync(self) -> int:
        """Acknowledged by this many replicas before a write counts: one broker may be lost."""
        return max(1, self.kafka_replication - 1)

    @property
    def metastore_in_postgres(self) -> bool:
        return self.spark_metastore_url.startswith("jdbc:postgresql:")

    @property
    def serves_s3(self) -> bool:
        """Whether the warehouse is on the project's own S3 server, which `lakehouse up` then starts."""
        return self.spark_warehouse.startswith("s3a://") and self.s3_endpoint == f"http://127.0.0.1:{self.s3_port}"

    @property
    def spark_connect_url(self) -> str:
        return f"sc://{self.spark_host}:{self.connect_port}"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def tmp_dir(self) -> Path:
        return self.home / "tmp"

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def spark_dir(self) -> Path:
        return self.home / "spark"

    @property
    def hdfs_dir(self) -> Path:
        """The NameNode's and DataNode's own storage (cluster mode)."""
        return self.home / "hdfs"

    @property
    def postgres_dir(self) -> Path:
        return self.home / "postgres"

    @property
    def jars_dir(self) -> Path:
        return self.cache / "jars"


POSTGRES_URL_VARIABLE = "LAKEHOUSE_POSTGRES_URL"
"""Named once: Dagster reads it as an `EnvVar`, so that its UI never shows the URL's password."""

SIDE_BY_SIDE_PORT_OFFSETS = {"test": 100, "bench": 200, "live": 300, "built": 400, "cluster": 500, "s3": 600}
"""How far each lakehouse beside the default one shifts the default ports. Hundreds, so that every
port stays under 32768, below the range Linux picks client ports from, where an open client socket
could hold a service's port and keep it from starting."""


def side_by_side_environment(name: str) -> dict[str, str]:
    """Environment for a second lakehouse beside the default one (tests, benchmarks): its own
    data home under `.lakehouse/<name>` and the default ports shifted by its offset."""
    port_offset = SIDE_BY_SIDE_PORT_OFFSETS[name]
    ports = {
        "LAKEHOUSE_KAFKA_PORT": 9092,
        "LAKEHOUSE_KAFKA_CONTROLLER_PORT": 9093,
        "LAKEHOUSE_THRIFT_PORT": 10000,
        "LAKEHOUSE_CONNECT_PORT": 15002,
        "LAKEHOUSE_SPARK_UI_PORT": 4040,
        "LAKEHOUSE_SPARK_MASTER_PORT": 7077,
        "LAKEHOUSE_SPARK_MASTER_UI_PORT": 8090,
        "LAKEHOUSE_DOCS_PORT": 8080,
        "LAKEHOUSE_DAGSTER_PORT": 3000,
        "LAKEHOUSE_POSTGRES_PORT": 5433,
        "LAKEHOUSE_HDFS_PORT": 8020,
        "LAKEHOUSE_HDFS_HTTP_PORT": 9870,
        "LAKEHOUSE_HDFS_DATANODE_PORT": 9866,
        "LAKEHOUSE_S3_PORT": 8333,
        "LAKEHOUSE_API_PORT": 8000,
        "LAKEHOUSE_DASHBOARD_PORT": 8501,
    }
    return {
        "LAKEHOUSE_HOME": str(PROJECT_ROOT / ".lakehouse" / name),
        **{variable: str(port + port_offset) for variable, port in ports.items()},
    }


@cache
def settings() -> Settings:
    mode = _env_choice("LAKEHOUSE_MODE", MODES)
    cluster = mode == "cluster"
    home = Path(_env("LAKEHOUSE_HOME", str(PROJECT_ROOT / ".lakehouse"))).resolve()
    cache_dir = Path(_env("LAKEHOUSE_CACHE", str(home / "cache"))).resolve()
    spark_host = _env("LAKEHOUSE_SPARK_HOST", "127.0.0.1")
    postgres_port = _env_number("LAKEHOUSE_POSTGRES_PORT", 5433)
    spark_master_port = _env_number("LAKEHOUSE_SPARK_MASTER_PORT", 7077)
    derby = f"jdbc:derby:;databaseName={home / 'metastore' / 'metastore_db'};create=true"
    hdfs_port = _env_number("LAKEHOUSE_HDFS_PORT", 8020)
    s3_port = _env_number("LAKEHOUSE_S3_PORT", 8333)
    # Cluster mode keeps every file on HDFS; local mode under the data home.
    files = f"hdfs://127.0.0.1:{hdfs_port}" if cluster else str(home)
    return Settings(
        mode=mode,
        home=home,
        cache=cache_dir,
        maven_mirror=_env("LAKEHOUSE_MAVEN_MIRROR", ""),
        kafka_host=_env("LAKEHOUSE_KAFKA_HOST", "127.0.0.1"),
        kafka_port=_env_number("LAKEHOUSE_KAFKA_PORT", 9092),
        kafka_controller_port=_env_number("LAKEHOUSE_KAFKA_CONTROLLER_PORT", 9093),
        kafka_brokers=_env_number("LAKEHOUSE_KAFKA_BROKERS", 3 if cluster else 1),
        kafka_heap=_env("LAKEHOUSE_KAFKA_HEAP", "512m"),
        kafka_version=_env("LAKEHOUSE_KAFKA_VERSION", "4.1.1"),
        kafka_bootstrap_servers=_env("LAKEHOUSE_KAFKA_BOOTSTRAP", ""),
        kafka_security_protocol=_env_choice("LAKEHOUSE_KAFKA_SECURITY_PROTOCOL", KAFKA_PROTOCOLS),
        kafka_sasl_mechanism=_env_choice("LAKEHOUSE_KAFKA_SASL_MECHANISM", KAFKA_MECHANISMS),
        kafka_username=_env("LAKEHOUSE_KAFKA_USERNAME", ""),
        kafka_password=_env("LAKEHOUSE_KAFKA_PASSWORD", ""),
        spark_host=spark_host,
        thrift_port=_env_number("LAKEHOUSE_THRIFT_PORT", 10000),
        connect_port=_env_number("LAKEHOUSE_CONNECT_PORT", 15002),
        spark_ui_port=_env_number("LAKEHOUSE_SPARK_UI_PORT", 4040),
        docs_port=_env_number("LAKEHOUSE_DOCS_PORT", 8080),
        dagster_port=_env_number("LAKEHOUSE_DAGSTER_PORT", 3000),
        s3_port=s3_port,
        s3_endpoint=_env("LAKEHOUSE_S3_ENDPOINT", f"http://127.0.0.1:{s3_port}"),
        s3_access_key=_env("LAKEHOUSE_S3_ACCESS_KEY", ""),
        s3_secret_key=_env("LAKEHOUSE_S3_SECRET_KEY", ""),
        postgres_port=postgres_port,
        postgres_url=_env(POSTGRES_URL_VARIABLE, ""),
        publish_after_build=_env_flag("LAKEHOUSE_PUBLISH_AFTER_BUILD", True),
        api_port=_env_number("LAKEHOUSE_API_PORT", 8000),
        api_token=_env("LAKEHOUSE_API_TOKEN", ""),
        dashboard_port=_env_number("LAKEHOUSE_DASHBOARD_PORT", 8501),
        spark_master=_env(
            "LAKEHOUSE_SPARK_MASTER", f"spark://{spark_host}:{spark_master_port}" if cluster else "local[2]"
        ),
        spark_master_port=spark_master_port,
        spark_master_ui_port=_env_number("LAKEHOUSE_SPARK_MASTER_UI_PORT", 8090),
        spark_workers=_env_number("LAKEHOUSE_SPARK_WORKERS", 2 if cluster else 0),
        spark_worker_cores=_env_number("LAKEHOUSE_SPARK_WORKER_CORES", 1),
        spark_worker_memory=_env("LAKEHOUSE_SPARK_WORKER_MEMORY", "1g"),
        spark_driver_memory=_env("LAKEHOUSE_SPARK_DRIVER_MEMORY", "2g"),
        spark_warehouse=_env("LAKEHOUSE_SPARK_WAREHOUSE", f"{files}/warehouse"),
        landing=_env("LAKEHOUSE_LANDING", f"{files}/landing"),
        staging=_env("LAKEHOUSE_STAGING", f"{files}/staging"),
        hdfs_port=hdfs_port,
        hdfs_http_port=_env_number("LAKEHOUSE_HDFS_HTTP_PORT", 9870),
        hdfs_datanode_port=_env_number("LAKEHOUSE_HDFS_DATANODE_PORT", 9866),
        spark_metastore_url=_env(
            "LAKEHOUSE_METASTORE_URL",
            f"jdbc:postgresql://127.0.0.1:{postgres_port}/metastore" if cluster else derby,
        ),
        metastore_user=_env("LAKEHOUSE_METASTORE_USER", "lakehouse"),
        spark_shuffle_partitions=_env_number("LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS", 4),
        delta_version=_env("LAKEHOUSE_DELTA_VERSION", "4.0.1"),
        spark_kafka_connector_version=_env("LAKEHOUSE_SPARK_KAFKA_VERSION", "4.0.0"),
        start_timeout_s=_env_number("LAKEHOUSE_START_TIMEOUT", 180),
        dbt_target=_env("LAKEHOUSE_DBT_TARGET", "local"),
        ingest_batch_rows=_env_number("LAKEHOUSE_INGEST_BATCH_ROWS", 100_000),
        ingest_batch_messages=_env_number("LAKEHOUSE_INGEST_BATCH_MESSAGES", 1_000_000),
        ingest_bad_share_threshold=_env_number("LAKEHOUSE_INGEST_BAD_SHARE", 0.2),
        ingest_bad_min_records=_env_number("LAKEHOUSE_INGEST_BAD_MIN", 10),
        ingest_settle_seconds=_env_number("LAKEHOUSE_INGEST_SETTLE_SECONDS", 5.0),
        vacuum_retain_hours=_env_number("LAKEHOUSE_VACUUM_RETAIN_HOURS", 168.0),
        alert_webhook=_env("LAKEHOUSE_ALERT_WEBHOOK", ""),
        alert_bad_share=_env_number("LAKEHOUSE_ALERT_BAD_SHARE", 0.05),
    )


def source_freshness_minutes(source_name: str, declared: float) -> float:
    """How long a source may go without a batch: `LAKEHOUSE_<SOURCE>_FRESHNESS_MINUTES`, else its declaration."""
    return _env_number(f"LAKEHOUSE_{source_name.upper()}_FRESHNESS_MINUTES", float(declared))


def source_encoding(source_name: str, declared: str) -> str:
    """The text encoding of a source's files: `LAKEHOUSE_<SOURCE>_ENCODING`, else its declaration."""
    import codecs

    name = f"LAKEHOUSE_{source_name.upper()}_ENCODING"
    encoding = _env(name, declared)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise LakehouseError(
            f"{name}={encoding!r} is not an encoding Python knows", hint="for example utf-8 or cp1252"
        ) from None
    return encoding
