"""Cluster mode's Spark standalone cluster: a master and its workers, from the Spark distribution
the project already installs (pyspark's jars). The lakehouse server is its one application: the
server stays the driver, its executors run on the workers."""

from __future__ import annotations

from pathlib import Path

from ingestion.network import Port
from lakehouse.services.service import Service
from lakehouse.services.spark_server import spark_home


def spark_workers(settings) -> list[SparkWorker]:
    return [SparkWorker(settings, n) for n in range(settings.spark_workers)]


class _SparkDaemon(Service):
    """A master or a worker: one JVM running a class of Spark's own jars."""

    main_class: str
    heap = "512m"

    def _arguments(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        self._work_dir.mkdir(parents=True, exist_ok=True)

    @property
    def _work_dir(self) -> Path:
        return self.settings.spark_dir / self.name

    def command(self, java: str) -> tuple[list[str], dict[str, str]]:
        s = self.settings
        argv = [
            java,
            f"-Dlakehouse.service={self.marker}",
            f"-Xmx{self.heap}",
            f"-Djava.io.tmpdir={s.tmp_dir}",
            "-XX:-UsePerfData",
            "-cp",
            f"{s.spark_dir / 'conf'}:{spark_home() / 'jars'}/*",
            self.main_class,
            *self._arguments(),
        ]
        env = {
            # A worker starts its executors from this Spark installation, bound to the same address.
            "SPARK_HOME": str(spark_home()),
            # pyspark's distribution has jars/ but no RELEASE file: Spark's launcher needs telling.
            "SPARK_SCALA_VERSION": "2.13",
            "SPARK_LOCAL_IP": s.spark_host,
            "SPARK_LOG_DIR": str(s.logs_dir),
            "SPARK_WORKER_DIR": str(self._work_dir),
        }
        return argv, env


class SparkMaster(_SparkDaemon):
    name = "spark-master"
    marker = "spark-master"
    main_class = "org.apache.spark.deploy.master.Master"

    def ports(self) -> list[Port]:
        s = self.settings
        return [Port("master", s.spark_host, s.spark_master_port), Port("web UI", s.spark_host, s.spark_master_ui_port)]

    def _arguments(self) -> list[str]:
        s = self.settings
        return ["--host", s.spark_host, "--port", str(s.spark_master_port), "--webui-port", str(s.spark_master_ui_port)]


class SparkWorker(_SparkDaemon):
    main_class = "org.apache.spark.deploy.worker.Worker"

    def __init__(self, settings, n: int) -> None:
        super().__init__(settings)
        self.n = n
        self.name = self.marker = f"spark-worker-{n + 1}"

    def ports(self) -> list[Port]:
        s = self.settings
        return [Port("web UI", s.spark_host, s.spark_master_ui_port + 1 + self.n)]

    def _arguments(self) -> list[str]:
        s = self.settings
        return [
            f"spark://{s.spark_host}:{s.spark_master_port}",
            "--host",
            s.spark_host,
            "--webui-port",
            str(s.spark_master_ui_port + 1 + self.n),
            "--cores",
            str(s.spark_worker_cores),
            "--memory",
            s.spark_worker_memory,
            "--work-dir",
            str(self._work_dir),
        ]

    def is_ready(self) -> bool:
        """Registered with the master (its web UI lists the worker as alive)."""
        if not super().is_ready():
            return False
        import json
        import urllib.request

        s = self.settings
        try:
            with urllib.request.urlopen(f"http://{s.spark_host}:{s.spark_master_ui_port}/json/", timeout=5) as answer:
                workers = json.load(answer).get("workers", [])
        except OSError:
            return False
        port = str(s.spark_master_ui_port + 1 + self.n)
        return any(w.get("state") == "ALIVE" and w.get("webuiaddress", "").endswith(f":{port}") for w in workers)
