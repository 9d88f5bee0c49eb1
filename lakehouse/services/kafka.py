"""A single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM)."""

from __future__ import annotations

import base64
import subprocess
import uuid

from ingestion.errors import LakehouseError
from ingestion.network import Port
from lakehouse.services.jars import ensure_jars, kafka_bundle
from lakehouse.services.service import Service, java_executable

_LOG4J2 = """status = warn
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
logger.kafka.name = kafka
logger.kafka.level = warn
logger.org.name = org.apache.kafka
logger.org.level = warn
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
"""


class KafkaBroker(Service):
    name = "kafka"
    marker = "kafka"

    def ports(self) -> list[Port]:
        s = self.settings
        return [
            Port("broker", s.kafka_host, s.kafka_port),
            Port("controller", s.kafka_host, s.kafka_controller_port),
        ]

    @property
    def _config_dir(self):
        return self.settings.kafka_dir / "config"

    @property
    def _data_dir(self):
        return self.settings.kafka_dir / "data"

    def _server_properties(self) -> str:
        s = self.settings
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{s.kafka_host}:{s.kafka_controller_port}",
                f"listeners=PLAINTEXT://{s.kafka_host}:{s.kafka_port},"
                f"CONTROLLER://{s.kafka_host}:{s.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://{s.kafka_host}:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={self._data_dir}",
                "num.partitions=3",
                "auto.create.topics.enable=true",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=168",
                "",
            ]
        )

    def _classpath(self) -> str:
        return ":".join(str(jar) for jar in ensure_jars(kafka_bundle(self.settings), self.settings))

    def prepare(self) -> None:
        self._config_dir.mkdir(parents=True, exist_ok=True)
        (self._config_dir / "server.properties").write_text(self._server_properties())
        (self._config_dir / "log4j2.properties").write_text(_LOG4J2)
        classpath = self._classpath()
        if (self._data_dir / "meta.properties").exists():
            return
        self._data_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = _random_cluster_id()
        result = subprocess.run(
            [
                java_executable(),
                *self._jvm_options(),
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={cluster_id}",  # one argument: an id may start with "-"
                "--config",
                str(self._config_dir / "server.properties"),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise LakehouseError(
                f"formatting Kafka storage in {self._data_dir} failed:\n{result.stdout}{result.stderr}",
                hint="`lakehouse clean` wipes the data home if it holds a broken broker",
            )
        print(f"kafka: formatted storage in {self._data_dir} (cluster {cluster_id})", flush=True)

    def _jvm_options(self) -> list[str]:
        return [
            f"-Dlog4j2.configurationFile={self._config_dir / 'log4j2.properties'}",
            f"-Djava.io.tmpdir={self.settings.tmp_dir}",
            "-XX:-UsePerfData",
            f"-Dkafka.logs.dir={self.settings.logs_dir}",
        ]

    def command(self, java: str) -> tuple[list[str], dict[str, str]]:
        return (
            [
                java,
                f"-Dlakehouse.service={self.marker}",
                f"-Xmx{self.settings.kafka_heap}",
                f"-Xms{self.settings.kafka_heap}",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                *self._jvm_options(),
                "-cp",
                self._classpath(),
                "kafka.Kafka",
                str(self._config_dir / "server.properties"),
            ],
            {},
        )

    def is_ready(self) -> bool:
        if not super().is_ready():
            return False
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap, request_timeout_ms=5000)
        except KafkaError:
            return False
        try:
            admin.list_topics()
            return True
        except KafkaError:
            return False
        finally:
            admin.close()


def _random_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (like `random-uuid`)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
