"""The application's settings: the library's (`ingestion.config`) and what the application adds, the
services it starts, their versions and ports, serving, alerts and maintenance. Read from the
environment once, with local defaults; the application asks `settings()` here, never the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ingestion.config import PROJECT_ROOT, Settings, env, env_flag, env_number, library_settings_from_environment


@dataclass(frozen=True)
class AppSettings(Settings):
    cache: Path
    """Downloaded jars and the Maven repository; survives `lakehouse clean` unless asked."""
    maven_mirror: str
    """A Maven repository URL to use instead of Maven Central (empty: Maven's own settings)."""

    kafka_controller_port: int
    """Broker n's KRaft controller listens on kafka_controller_port + 2n."""
    kafka_heap: str
    kafka_version: str

    thrift_port: int
    spark_ui_port: int
    spark_master: str
    spark_master_port: int
    """The standalone master of cluster mode (its web UI on spark_master_ui_port, worker n's on + 1 + n)."""
    spark_master_ui_port: int
    spark_workers: int
    spark_worker_cores: int
    spark_worker_memory: str
    spark_driver_memory: str
    spark_shuffle_partitions: int
    delta_version: str
    spark_kafka_connector_version: str
    """org.apache.spark:spark-sql-kafka-0-10: the server reads Kafka offset ranges with it."""

    docs_port: int
    """The dbt docs site (`lakehouse docs`)."""
    dagster_port: int
    """The Dagster UI (`lakehouse ui`)."""

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
    weed: str
    """The SeaweedFS `weed` program (empty: built with Go under the cache)."""

    postgres_bin: str
    """The folder of `postgres` and `initdb` (empty: PATH, then Debian's newest)."""
    postgres_url: str
    """Where gold is published: empty for the project's own PostgreSQL, or a libpq URL of an existing one."""
    publish_after_build: bool
    """Whether Dagster's sensor `published_follows_gold` runs from the start (publishing after each build)."""
    api_port: int
    """The read-only REST API (`lakehouse api`)."""
    users_file: Path
    """Users of the API and the dashboard with their role and hashed secret (`lakehouse users`);
    with none, both are open on 127.0.0.1 (lakehouse/serving/access.py)."""
    masking_key: str
    """The key of the stable hash that masks personal columns below admin (empty: one made once
    beside the users file)."""
    dashboard_port: int
    """The Streamlit dashboard (`lakehouse dashboard`)."""
    dashboard_refresh_s: float
    """How often the dashboard's pages read gold again."""

    start_timeout_s: int

    dbt_target: str
    """The profiles.yml output dbt builds with, from the CLI and from Dagster alike."""

    vacuum_retain_hours: float
    """The history VACUUM keeps (`lakehouse maintain`): Delta's own default, 7 days, protects queries
    still reading an older version."""
    alert_webhook: str
    """Where alerts are POSTed as JSON, when set (`lakehouse.operations.alerts`)."""
    alert_bad_share: float
    """A batch with more bad records than this share raises an alert (below the share that quarantines it whole)."""

    @property
    def kafka_replication(self) -> int:
        return min(3, self.kafka_brokers)

    @property
    def kafka_min_insync(self) -> int:
        """Acknowledged by this many replicas before a write counts: one broker may be lost."""
        return max(1, self.kafka_replication - 1)

    @property
    def serves_s3(self) -> bool:
        """Whether the warehouse is on the project's own S3 server, which `lakehouse up` then starts."""
        return self.spark_warehouse.startswith("s3a://") and self.s3_endpoint == f"http://127.0.0.1:{self.s3_port}"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

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


@cache
def settings() -> AppSettings:
    loaded = _settings_from_environment()
    if loaded.spark_token:
        # profiles.yml reads only the environment: the Spark server's credential, when the project
        # made it, reaches dbt (run here, in a subprocess or by Dagster) this way.
        os.environ.setdefault("LAKEHOUSE_SPARK_TOKEN", loaded.spark_token)
    return loaded


def _settings_from_environment() -> AppSettings:
    library = library_settings_from_environment()
    cluster = library["mode"] == "cluster"
    s3_port = env_number("LAKEHOUSE_S3_PORT", 8333)
    spark_master_port = env_number("LAKEHOUSE_SPARK_MASTER_PORT", 7077)
    return AppSettings(
        **library,
        cache=Path(env("LAKEHOUSE_CACHE", str(library["home"] / "cache"))).resolve(),
        maven_mirror=env("LAKEHOUSE_MAVEN_MIRROR", ""),
        kafka_controller_port=env_number("LAKEHOUSE_KAFKA_CONTROLLER_PORT", 9093),
        kafka_heap=env("LAKEHOUSE_KAFKA_HEAP", "512m"),
        kafka_version=env("LAKEHOUSE_KAFKA_VERSION", "4.1.1"),
        thrift_port=env_number("LAKEHOUSE_THRIFT_PORT", 10000),
        spark_ui_port=env_number("LAKEHOUSE_SPARK_UI_PORT", 4040),
        spark_master=env(
            "LAKEHOUSE_SPARK_MASTER",
            f"spark://{library['spark_host']}:{spark_master_port}" if cluster else "local[2]",
        ),
        spark_master_port=spark_master_port,
        spark_master_ui_port=env_number("LAKEHOUSE_SPARK_MASTER_UI_PORT", 8090),
        spark_workers=env_number("LAKEHOUSE_SPARK_WORKERS", 2 if cluster else 0),
        spark_worker_cores=env_number("LAKEHOUSE_SPARK_WORKER_CORES", 1),
        spark_worker_memory=env("LAKEHOUSE_SPARK_WORKER_MEMORY", "1g"),
        spark_driver_memory=env("LAKEHOUSE_SPARK_DRIVER_MEMORY", "2g"),
        spark_shuffle_partitions=env_number("LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS", 4),
        delta_version=env("LAKEHOUSE_DELTA_VERSION", "4.0.1"),
        spark_kafka_connector_version=env("LAKEHOUSE_SPARK_KAFKA_VERSION", "4.0.0"),
        docs_port=env_number("LAKEHOUSE_DOCS_PORT", 8080),
        dagster_port=env_number("LAKEHOUSE_DAGSTER_PORT", 3000),
        hdfs_datanode_port=env_number("LAKEHOUSE_HDFS_DATANODE_PORT", 9866),
        s3_port=s3_port,
        s3_endpoint=env("LAKEHOUSE_S3_ENDPOINT", f"http://127.0.0.1:{s3_port}"),
        s3_access_key=env("LAKEHOUSE_S3_ACCESS_KEY", ""),
        s3_secret_key=env("LAKEHOUSE_S3_SECRET_KEY", ""),
        weed=env("LAKEHOUSE_WEED", ""),
        postgres_bin=env("LAKEHOUSE_POSTGRES_BIN", ""),
        postgres_url=env(POSTGRES_URL_VARIABLE, ""),
        publish_after_build=env_flag("LAKEHOUSE_PUBLISH_AFTER_BUILD", True),
        api_port=env_number("LAKEHOUSE_API_PORT", 8000),
        users_file=Path(env("LAKEHOUSE_USERS_FILE", str(Path.home() / ".config" / "lakehouse" / "users"))),
        masking_key=env("LAKEHOUSE_MASKING_KEY", ""),
        dashboard_port=env_number("LAKEHOUSE_DASHBOARD_PORT", 8501),
        dashboard_refresh_s=env_number("LAKEHOUSE_DASHBOARD_REFRESH", 10.0),
        start_timeout_s=env_number("LAKEHOUSE_START_TIMEOUT", 180),
        dbt_target=env("LAKEHOUSE_DBT_TARGET", "local"),
        vacuum_retain_hours=env_number("LAKEHOUSE_VACUUM_RETAIN_HOURS", 168.0),
        alert_webhook=env("LAKEHOUSE_ALERT_WEBHOOK", ""),
        alert_bad_share=env_number("LAKEHOUSE_ALERT_BAD_SHARE", 0.05),
    )


SIDE_BY_SIDE_PORT_OFFSETS = {"test": 100, "bench": 200, "live": 300, "built": 400, "cluster": 500, "s3": 600}
"""How far each lakehouse beside the default one shifts the default ports. Hundreds, so that every
port stays under 32768, below the range Linux picks client ports from, where an open client socket
could hold a service's port and keep it from starting."""


def side_by_side_environment(name: str, port_offset: int | None = None) -> dict[str, str]:
    """Environment for a second lakehouse beside the default one (tests, benchmarks): its own
    data home under `.lakehouse/<name>` and the default ports shifted by its offset (the name's in
    SIDE_BY_SIDE_PORT_OFFSETS unless given)."""
    if port_offset is None:
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
        # Its own users (none: open on 127.0.0.1), never the user's own file.
        "LAKEHOUSE_USERS_FILE": str(PROJECT_ROOT / ".lakehouse" / name / "access" / "users"),
        **{variable: str(port + port_offset) for variable, port in ports.items()},
    }
