"""Cluster mode's HDFS: a NameNode and a DataNode from Apache Hadoop's own jars (Maven Central).

They hold the warehouse, the landing zone and the staging area (`hdfs://127.0.0.1:<port>/…`).
The Spark server reads and writes them with the Hadoop client Spark ships; Python goes through
WebHDFS on the NameNode's HTTP port. Every port binds to 127.0.0.1, and the DataNode names itself
127.0.0.1, so WebHDFS redirects stay on loopback. One DataNode: one replica of each block.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from xml.sax.saxutils import escape

from ingestion.errors import LakehouseError
from ingestion.network import Port
from lakehouse.services.jars import JarBundle, ensure_jars
from lakehouse.services.service import Service, java_executable
from lakehouse.settings import AppSettings

HADOOP_VERSION = "3.4.1"
"""The Hadoop client in Spark 4.0's jars: the servers speak the same protocol version."""

_LOG4J = """log4j.rootLogger=INFO,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
log4j.logger.org.apache.hadoop.hdfs.StateChange=WARN
log4j.logger.org.apache.hadoop.hdfs.server.namenode.FSNamesystem.audit=WARN
log4j.logger.org.apache.hadoop.hdfs.server.datanode.DataNode.clienttrace=WARN
"""

# Hadoop's JAXB and Jersey reflect into the JDK (WebHDFS answers 500 without these on Java 17).
_OPENS = [
    f"--add-opens=java.base/{package}=ALL-UNNAMED"
    for package in ("java.lang", "java.util", "java.io", "java.nio", "sun.nio.ch", "java.net")
]


def hadoop_bundle() -> JarBundle:
    return JarBundle(
        name="hadoop",
        artifacts=tuple(
            f"org.apache.hadoop:{artifact}:{HADOOP_VERSION}"
            for artifact in ("hadoop-hdfs", "hadoop-hdfs-client", "hadoop-common")
        ),
        transitive=True,
    )


def hdfs_services(settings: AppSettings) -> list[Service]:
    return [NameNode(settings), DataNode(settings)]


def _site(properties: dict[str, str]) -> str:
    rows = "\n".join(
        f"  <property><name>{escape(key)}</name><value>{escape(value)}</value></property>"
        for key, value in properties.items()
    )
    return f'<?xml version="1.0"?>\n<configuration>\n{rows}\n</configuration>\n'


class _HadoopDaemon(Service):
    main_class: str
    heap = "512m"

    @property
    def _conf_dir(self) -> Path:
        return self.settings.hdfs_dir / "conf"

    def _write_configuration(self) -> None:
        s, host, data = self.settings, "127.0.0.1", self.settings.hdfs_dir
        core = {"fs.defaultFS": f"hdfs://{host}:{s.hdfs_port}", "hadoop.tmp.dir": str(s.tmp_dir / "hadoop")}
        hdfs = {
            "dfs.namenode.name.dir": str(data / "name"),
            "dfs.datanode.data.dir": str(data / "data"),
            "dfs.replication": "1",
            "dfs.namenode.rpc-address": f"{host}:{s.hdfs_port}",
            "dfs.namenode.http-address": f"{host}:{s.hdfs_http_port}",
            "dfs.namenode.secondary.http-address": f"{host}:0",
            "dfs.datanode.address": f"{host}:{s.hdfs_datanode_port}",
            "dfs.datanode.ipc.address": f"{host}:{s.hdfs_datanode_port + 1}",
            "dfs.datanode.http.address": f"{host}:{s.hdfs_datanode_port + 2}",
            "dfs.datanode.hostname": host,
            # One tenant: the server's Thrift sessions act as the user their client names (dbt's,
            # beeline's), and all of them write the one warehouse.
            "dfs.permissions.enabled": "false",
            # Spark's executors write small Delta files: no need to wait for a heartbeat.
            "dfs.namenode.safemode.extension": "0",
        }
        self._conf_dir.mkdir(parents=True, exist_ok=True)
        (self._conf_dir / "core-site.xml").write_text(_site(core))
        (self._conf_dir / "hdfs-site.xml").write_text(_site(hdfs))
        (self._conf_dir / "log4j.properties").write_text(_LOG4J)
        # The HTTP servers look their web applications up on the class path; Maven's jars leave the
        # HTML pages out (the distribution's share/ folder has them), WebHDFS needs none.
        for app in ("hdfs", "datanode", "static"):
            (self._conf_dir / "webapps" / app).mkdir(parents=True, exist_ok=True)

    def _java(self, java: str, *arguments: str) -> list[str]:
        classpath = ":".join([str(self._conf_dir), *(str(jar) for jar in self._jars)])
        return [
            java,
            f"-Dlakehouse.service={self.marker}",
            f"-Xmx{self.heap}",
            f"-Djava.io.tmpdir={self.settings.tmp_dir}",
            "-XX:-UsePerfData",
            *_OPENS,
            "-cp",
            classpath,
            self.main_class,
            *arguments,
        ]

    def prepare(self) -> None:
        self._jars = ensure_jars(hadoop_bundle(), self.settings)
        self._write_configuration()

    def command(self, java: str) -> tuple[list[str], dict[str, str]]:
        return self._java(java), {"HADOOP_LOG_DIR": str(self.settings.logs_dir)}


class NameNode(_HadoopDaemon):
    name = "hdfs-namenode"
    marker = "hdfs-namenode"
    main_class = "org.apache.hadoop.hdfs.server.namenode.NameNode"

    def ports(self) -> list[Port]:
        s = self.settings
        return [Port("rpc", "127.0.0.1", s.hdfs_port), Port("http", "127.0.0.1", s.hdfs_http_port)]

    def prepare(self) -> None:
        super().prepare()
        if (self.settings.hdfs_dir / "name" / "current" / "VERSION").exists():
            return
        result = subprocess.run(
            self._java(java_executable(), "-format", "-nonInteractive"), capture_output=True, text=True
        )
        if result.returncode != 0:
            raise LakehouseError(
                f"formatting the NameNode in {self.settings.hdfs_dir / 'name'} failed:\n{result.stderr[-2000:]}",
                hint="`lakehouse clean` wipes the data home if it holds a broken file system",
            )
        print(f"{self.name}: formatted a new file system in {self.settings.hdfs_dir / 'name'}", flush=True)

    def is_ready(self) -> bool:
        """Listening, and out of safe mode (writes are refused until it is)."""
        return super().is_ready() and _jmx(self.settings, "NameNodeInfo").get("Safemode", "?") == ""


class DataNode(_HadoopDaemon):
    name = "hdfs-datanode"
    marker = "hdfs-datanode"
    main_class = "org.apache.hadoop.hdfs.server.datanode.DataNode"

    def ports(self) -> list[Port]:
        port = self.settings.hdfs_datanode_port
        return [
            Port("data", "127.0.0.1", port),
            Port("ipc", "127.0.0.1", port + 1),
            Port("http", "127.0.0.1", port + 2),
        ]

    def is_ready(self) -> bool:
        """Registered with the NameNode, so that a file can be written."""
        live = _jmx(self.settings, "NameNodeInfo").get("LiveNodes", "{}")
        return super().is_ready() and len(json.loads(live)) > 0


def _jmx(settings: AppSettings, bean: str) -> dict:
    url = f"http://127.0.0.1:{settings.hdfs_http_port}/jmx?qry=Hadoop:service=NameNode,name={bean}"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            beans = json.load(answer).get("beans", [])
    except (OSError, ValueError):
        return {}
    return beans[0] if beans else {}
