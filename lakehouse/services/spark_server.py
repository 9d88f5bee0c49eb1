"""The Spark lakehouse server: one driver that owns the Hive metastore and the Delta warehouse.

It serves Thrift/JDBC (dbt, beeline, BI tools) and Spark Connect (ingestion, PySpark) from the
same process, so every client sees the same tables and only one JVM ever opens the metastore.
"""

from __future__ import annotations

from pathlib import Path

import pyspark

from ingestion.network import Port
from lakehouse.services.jars import ensure_jars, s3a_bundle, spark_server_bundle
from lakehouse.services.seaweedfs import s3a_conf
from lakehouse.services.service import Service
from lakehouse.services.thrift_login import LOGIN_CLASS, compiled_login
from lakehouse.settings import AppSettings

_LOG4J2 = """rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.thrift.name = org.apache.spark.sql.hive.thriftserver
logger.thrift.level = info
logger.connect.name = org.apache.spark.sql.connect.service
logger.connect.level = info
"""


def spark_home() -> Path:
    return Path(pyspark.__file__).resolve().parent


def lakehouse_spark_conf(settings: AppSettings) -> dict[str, str]:
    """The lakehouse's Spark settings (Delta, metastore, warehouse, small-data defaults).

    profiles.yml repeats them for dbt's `embedded` target, which cannot call Python.
    """
    conf = {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.sources.default": "delta",
        "spark.sql.legacy.createHiveTableByDefault": "false",
        "spark.sql.warehouse.dir": settings.spark_warehouse,
        "spark.hadoop.javax.jdo.option.ConnectionURL": settings.spark_metastore_url,
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.databricks.delta.snapshotPartitions": "2",
        # Auto compaction when a table has 50 small files, as documented. Under Delta's default
        # ("modified partitions only", decided from a per-server record of compacted partitions),
        # every commit to a table that existed before the server started was followed by an
        # OPTIMIZE rewriting its small files, and so was a new table's first large batch
        # (+1 s per ledger event; benchmarks/batch_cost.py and benchmarks/ingestion.py).
        "spark.databricks.delta.autoCompact.modifiedPartitionsOnly.enabled": "false",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.local.dir": str(settings.tmp_dir),
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        # The one cache is an ingestion batch, scanned once more right after it is built:
        # compressing it cost more time than the memory it saved (benchmarks/ingestion.py).
        "spark.sql.inMemoryColumnarStorage.compressed": "false",
    }
    if settings.spark_warehouse.startswith("s3a://"):
        conf |= s3a_conf(settings)
    if settings.metastore_in_postgres:
        # DataNucleus creates Hive's metastore tables as it first needs each, as with Derby, but
        # without foreign keys: adding one to a new table waits for a lock on the table it refers to,
        # which the very transaction that needed the new table holds (a deadlock in PostgreSQL).
        conf |= {
            "spark.hadoop.javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
            "spark.hadoop.javax.jdo.option.ConnectionUserName": settings.metastore_user,
            "spark.hadoop.datanucleus.schema.autoCreateAll": "false",
            "spark.hadoop.datanucleus.schema.autoCreateTables": "true",
            "spark.hadoop.datanucleus.schema.autoCreateColumns": "true",
            "spark.hadoop.datanucleus.schema.autoCreateConstraints": "false",
            "spark.hadoop.hive.metastore.schema.verification": "false",
        }
    return conf


class SparkServer(Service):
    name = "spark"
    marker = "spark"

    def ports(self) -> list[Port]:
        s = self.settings
        return [Port("thrift", s.spark_host, s.thrift_port), Port("connect", s.spark_host, s.connect_port)]

    @property
    def _conf_dir(self) -> Path:
        return self.settings.spark_dir / "conf"

    def _hive_dirs(self) -> dict[str, Path]:
        tmp = self.settings.tmp_dir
        return {
            "hive.server2.logging.operation.log.location": tmp / "operation_logs",
            "hive.exec.scratchdir": tmp / "hive-scratch",
            "hive.exec.local.scratchdir": tmp / "hive-local-scratch",
            "hive.querylog.location": tmp / "hive-querylog",
        }

    def prepare(self) -> None:
        self._jars = ensure_jars(spark_server_bundle(self.settings), self.settings)
        if self.settings.spark_warehouse.startswith("s3a://"):
            self._jars += ensure_jars(s3a_bundle(), self.settings)
        self._conf_dir.mkdir(parents=True, exist_ok=True)
        (self._conf_dir / "log4j2.properties").write_text(_LOG4J2)
        (self.settings.home / "metastore").mkdir(parents=True, exist_ok=True)
        # Created up front: Hive sessions opened at the same moment race to create them and
        # the loser fails with "Couldn't create directory". (Downloaded resources keep Hive's
        # default, a folder per session under java.io.tmpdir: a session deletes it on close.)
        for folder in self._hive_dirs().values():
            folder.mkdir(parents=True, exist_ok=True)

    def command(self, java: str) -> tuple[list[str], dict[str, str]]:
        s = self.settings
        host = s.spark_host
        java_options = " ".join(
            [
                f"-Dlakehouse.service={self.marker}",
                f"-Dderby.system.home={s.home / 'metastore'}",
                f"-Djava.io.tmpdir={s.tmp_dir}",
                f"-Dlakehouse.users.file={s.users_file}",
                "-XX:-UsePerfData",
            ]
        )
        conf = {
            **lakehouse_spark_conf(s),
            "spark.driver.host": host,
            "spark.driver.bindAddress": host,
            "spark.ui.port": str(s.spark_ui_port),
            "spark.connect.grpc.binding.address": host,
            "spark.connect.grpc.binding.port": str(s.connect_port),
            "spark.plugins": "org.apache.spark.sql.connect.SparkConnectPlugin",
            "spark.driver.extraJavaOptions": java_options,
            "spark.sql.hive.thriftServer.singleSession": "false",
        }
        if s.spark_master.startswith("spark://"):
            # One executor per worker, as large as the worker. No waiting for a task slot on the
            # host holding a block: every query here is small, and 3 s per stage (the default)
            # would be most of its time.
            conf |= {
                "spark.executor.memory": s.spark_worker_memory,
                "spark.executor.cores": str(s.spark_worker_cores),
                "spark.locality.wait": "0s",
            }
        hive_conf = {
            "hive.server2.thrift.bind.host": host,
            "hive.server2.thrift.port": str(s.thrift_port),
            **{key: str(folder) for key, folder in self._hive_dirs().items()},
        }
        class_path = [str(jar) for jar in self._jars]
        if s.spark_token:
            # Thrift admits the service user and the users file's admins (thrift_login/); Spark
            # Connect, a bearer of the token, read by both from the environment.
            class_path.append(str(compiled_login(s, java, spark_home() / "jars")))
            hive_conf |= {
                "hive.server2.authentication": "CUSTOM",
                "hive.server2.custom.authentication.class": LOGIN_CLASS,
            }
        argv = [
            str(spark_home() / "bin" / "spark-submit"),
            "--class",
            "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
            "--name",
            "lakehouse-spark-server",
            "--master",
            s.spark_master,
            "--driver-memory",
            s.spark_driver_memory,
            "--jars",
            ",".join(str(jar) for jar in self._jars),
            # Thrift sessions resolve data sources through the system class loader, which
            # does not see --jars; Delta must be on the driver's class path as well.
            "--driver-class-path",
            ":".join(class_path),
        ]
        for key, value in conf.items():
            argv += ["--conf", f"{key}={value}"]
        argv.append("spark-internal")
        for key, value in hive_conf.items():
            argv += ["--hiveconf", f"{key}={value}"]
        env = {
            "SPARK_HOME": str(spark_home()),
            "SPARK_CONF_DIR": str(self._conf_dir),
            "SPARK_LOCAL_IP": host,
            "SPARK_LOG_DIR": str(s.logs_dir),
        }
        if s.spark_token:
            env["SPARK_CONNECT_AUTHENTICATE_TOKEN"] = s.spark_token
        if s.metastore_in_postgres and s.metastore_password:
            # In a file of this account's only, not on the command line that `ps` shows.
            argv[1:1] = ["--properties-file", str(self._secret_properties(s.metastore_password))]
        return argv, env

    def _secret_properties(self, metastore_password: str) -> Path:
        path = self._conf_dir / "secret.properties"
        path.touch(mode=0o600)
        escaped = metastore_password.replace("\\", "\\\\")  # a Java properties file's one escape in a value
        path.write_text(f"spark.hadoop.javax.jdo.option.ConnectionPassword={escaped}\n")
        return path
