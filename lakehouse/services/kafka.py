"""Apache Kafka in KRaft mode: one broker, or in cluster mode a cluster of brokers, each also a
controller (broker and controller in one JVM, the controllers forming the KRaft quorum)."""

from __future__ import annotations

import base64
import subprocess
import uuid

from ingestion.errors import LakehouseError
from ingestion.network import Port, port_answers
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
logger.authentication.name = org.apache.kafka.common.network.Selector
logger.authentication.level = info
"""


def kafka_brokers(settings) -> list[KafkaBroker]:
    """The brokers `lakehouse up` starts: none when LAKEHOUSE_KAFKA_BOOTSTRAP names an existing cluster."""
    if settings.kafka_bootstrap_servers:
        return []
    return [KafkaBroker(settings, node) for node in range(settings.kafka_brokers)]


class KafkaBroker(Service):
    def __init__(self, settings, node: int = 0) -> None:
        super().__init__(settings)
        self.node = node
        self.clustered = settings.kafka_brokers > 1
        # One broker keeps the names and folders it always had.
        self.name = self.marker = f"kafka-{node + 1}" if self.clustered else "kafka"

    @property
    def _broker_port(self) -> int:
        return self.settings.kafka_ports[self.node]

    def _controller_port(self, node: int) -> int:
        return self.settings.kafka_controller_port + 2 * node

    def ports(self) -> list[Port]:
        s = self.settings
        return [
            Port("broker", s.kafka_host, self._broker_port),
            Port("controller", s.kafka_host, self._controller_port(self.node)),
        ]

    @property
    def _node_dir(self):
        return self.settings.kafka_dir / self.name if self.clustered else self.settings.kafka_dir

    @property
    def _config_dir(self):
        return self._node_dir / "config"

    @property
    def _data_dir(self):
        return self._node_dir / "data"

    def _server_properties(self) -> str:
        s = self.settings
        host = s.kafka_host
        voters = ",".join(f"{n + 1}@{host}:{self._controller_port(n)}" for n in range(s.kafka_brokers))
        replicas, min_insync = s.kafka_replication, s.kafka_min_insync
        listener = s.kafka_security_protocol
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={self.node + 1}",
                f"controller.quorum.voters={voters}",
                f"listeners={listener}://{host}:{self._broker_port},CONTROLLER://{host}:{self._controller_port(self.node)}",
                f"advertised.listeners={listener}://{host}:{self._broker_port}",
                "controller.listener.names=CONTROLLER",
                f"inter.broker.listener.name={listener}",
                f"listener.security.protocol.map={listener}:{listener},CONTROLLER:PLAINTEXT",
                *self._sasl_properties(),
                f"log.dirs={self._data_dir}",
                "num.partitions=3",
                "auto.create.topics.enable=true",
                f"default.replication.factor={replicas}",
                f"min.insync.replicas={min_insync}",
                f"offsets.topic.replication.factor={replicas}",
                f"transaction.state.log.replication.factor={replicas}",
                f"transaction.state.log.min.isr={min_insync}",
                f"share.coordinator.state.topic.replication.factor={replicas}",
                f"share.coordinator.state.topic.min.isr={min_insync}",
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=168",
                "",
            ]
        )

    def _sasl_properties(self) -> list[str]:
        """SASL/PLAIN on the client listener: the configured user is the one account (the brokers
        too log in to each other with it). The controllers' own listener stays on loopback, plain."""
        s = self.settings
        if not s.kafka_sasl:
            return []
        if s.kafka_security_protocol != "SASL_PLAINTEXT" or s.kafka_sasl_mechanism != "PLAIN" or not s.kafka_username:
            raise LakehouseError(
                f"the project's own Kafka brokers offer SASL_PLAINTEXT with PLAIN and a user, not "
                f"{s.kafka_security_protocol} with {s.kafka_sasl_mechanism}",
                hint="set LAKEHOUSE_KAFKA_USERNAME/_PASSWORD with SASL_PLAINTEXT and PLAIN, or point "
                "LAKEHOUSE_KAFKA_BOOTSTRAP at a cluster that has them",
            )
        user, password = s.kafka_username, s.kafka_password
        prefix = f"listener.name.{s.kafka_security_protocol.lower()}.plain"
        return [
            "sasl.enabled.mechanisms=PLAIN",
            "sasl.mechanism.inter.broker.protocol=PLAIN",
            f"{prefix}.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{user}" password="{password}" user_{user}="{password}";',
        ]

    def _cluster_id(self) -> str:
        """One id for every broker of the cluster, chosen when the first one is formatted."""
        path = self.settings.kafka_dir / "cluster.id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_random_cluster_id())
        return path.read_text().strip()

    def _classpath(self) -> str:
        return ":".join(str(jar) for jar in ensure_jars(kafka_bundle(self.settings), self.settings))

    def prepare(self) -> None:
        self._config_dir.mkdir(parents=True, exist_ok=True)
        properties = self._config_dir / "server.properties"
        properties.touch(mode=0o600)  # it may hold the SASL password
        properties.write_text(self._server_properties())
        (self._config_dir / "log4j2.properties").write_text(_LOG4J2)
        classpath = self._classpath()
        if (self._data_dir / "meta.properties").exists():
            return
        self._data_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = self._cluster_id() if self.clustered else _random_cluster_id()
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
        print(f"{self.name}: formatted storage in {self._data_dir} (cluster {cluster_id})", flush=True)

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
        if self.clustered and self.node < self.settings.kafka_brokers - 1:
            # Its broker opens once a quorum of controllers is up: the ones started after it.
            return port_answers(self.ports()[1])
        if not super().is_ready():
            return False
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        from ingestion.kafka_client import security_config

        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.settings.kafka_bootstrap, request_timeout_ms=5000, **security_config()
            )
        except KafkaError:
            return False
        try:
            admin.list_topics()
            return len(admin.describe_cluster()["brokers"]) == self.settings.kafka_brokers
        except KafkaError:
            return False
        finally:
            admin.close()


def _random_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (like `random-uuid`)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
