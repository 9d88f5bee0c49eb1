"""Jars the services need, fetched from Maven Central with Maven into the cache, never committed."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ingestion.errors import LakehouseError
from lakehouse.settings import AppSettings

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lakehouse</groupId><artifactId>{name}-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""

_SETTINGS_WITH_MIRROR = """<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
  <mirrors><mirror><id>lakehouse-mirror</id><mirrorOf>*</mirrorOf><url>{url}</url></mirror></mirrors>
</settings>
"""

_DEPENDENCY_PLUGIN = "3.8.1"

_NETWORK_SIGNS = (
    "Could not transfer",
    "Connection refused",
    "UnknownHost",
    "Unknown host",
    "Connect to",
    "timed out",
    "Network is unreachable",
    "No plugin found",  # offline with an empty local repository
    "could not be resolved",
)


@dataclass(frozen=True)
class JarBundle:
    """A set of Maven artifacts copied, with or without their dependencies, into one folder."""

    name: str
    artifacts: tuple[str, ...]  # groupId:artifactId:version
    transitive: bool
    excluded: tuple[str, ...] = ()
    """groupId:artifactId (`*` for any) left out of every artifact's dependencies: what Spark ships
    already (its version wins), or what is not needed."""

    def directory(self, settings: AppSettings) -> Path:
        return settings.jars_dir / self.name

    def _marker(self, settings: AppSettings) -> Path:
        return self.directory(settings) / ".complete"

    def is_complete(self, settings: AppSettings) -> bool:
        marker = self._marker(settings)
        return marker.exists() and marker.read_text() == self._identity()

    def _identity(self) -> str:
        return "\n".join([*self.artifacts, *(f"-{excluded}" for excluded in self.excluded)])

    def classpath(self, settings: AppSettings) -> list[Path]:
        return sorted(self.directory(settings).glob("*.jar"))


def kafka_bundle(settings: AppSettings) -> JarBundle:
    return JarBundle(
        name="kafka",
        artifacts=(
            f"org.apache.kafka:kafka_2.13:{settings.kafka_version}",
            "org.apache.logging.log4j:log4j-slf4j-impl:2.24.3",
        ),
        transitive=True,
    )


def spark_server_bundle(settings: AppSettings) -> JarBundle:
    """Delta Lake, and Spark's Kafka source (the server reads the planned offset ranges itself).

    Spark already ships everything else they depend on (antlr, jackson, scala, lz4, snappy,
    hadoop-client). The Kafka connector of the latest 4.0 release served by Maven Central is
    binary compatible with every Spark 4.0.x.
    """
    kafka_connector = settings.spark_kafka_connector_version
    return JarBundle(
        name="spark",
        artifacts=(
            f"io.delta:delta-spark_2.13:{settings.delta_version}",
            f"io.delta:delta-storage:{settings.delta_version}",
            f"org.apache.spark:spark-sql-kafka-0-10_2.13:{kafka_connector}",
            f"org.apache.spark:spark-token-provider-kafka-0-10_2.13:{kafka_connector}",
            "org.apache.kafka:kafka-clients:3.9.0",
            "org.apache.commons:commons-pool2:2.12.0",
            # The JDBC driver of a Hive metastore in PostgreSQL (cluster mode).
            "org.postgresql:postgresql:42.7.4",
            # Spark 4 dropped it, yet Hive's FunctionRegistry needs it when a Thrift session closes on
            # a thread that has no Hive client yet: without it that close fails, and dbt with it.
            "org.apache.hive:hive-llap-common:2.3.10",
        ),
        transitive=False,
        # Not even resolved: hive-llap-common's old Hadoop dependencies ask for the JDK's tools.jar.
        excluded=("*:*",),
    )


def s3a_bundle() -> JarBundle:
    """Hadoop's S3A file system (the warehouse on S3) and the AWS SDK it calls; hadoop-aws matches
    the Hadoop client inside Spark 4.0, the SDK is the newest served (hadoop-aws only needs v2)."""
    sdk = "2.57.8"
    return JarBundle(
        name="s3a",
        artifacts=(
            "org.apache.hadoop:hadoop-aws:3.4.1",
            f"software.amazon.awssdk:s3:{sdk}",
            f"software.amazon.awssdk:s3-transfer-manager:{sdk}",
            f"software.amazon.awssdk:apache-client:{sdk}",
        ),
        transitive=True,
        excluded=(
            "software.amazon.awssdk:bundle",  # the whole SDK, 500 MB: the three modules above suffice
            "org.wildfly.openssl:*",
            "io.netty:*",
            "org.apache.httpcomponents:*",
            "commons-codec:*",
            "commons-logging:*",
            "org.slf4j:*",
        ),
    )


def ensure_jars(bundle: JarBundle, settings: AppSettings) -> list[Path]:
    """Return the bundle's jars, downloading them with Maven the first time."""
    if bundle.is_complete(settings):
        return bundle.classpath(settings)
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LakehouseError(
            f"the {bundle.name} jars are missing from {bundle.directory(settings)} and Maven (mvn) "
            "is not installed to fetch them",
            hint="install Maven (apt-get install maven), or copy the jars into that folder",
        )
    work = settings.cache / "maven" / bundle.name
    work.mkdir(parents=True, exist_ok=True)
    pom = work / "pom.xml"
    pom.write_text(_POM.format(name=bundle.name, dependencies=_dependencies_xml(bundle)))
    target = bundle.directory(settings)
    if target.exists():
        shutil.rmtree(target)
    command = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        f"-Dmaven.repo.local={settings.cache / 'maven' / 'repository'}",
        "-Dstyle.color=never",
        f"org.apache.maven.plugins:maven-dependency-plugin:{_DEPENDENCY_PLUGIN}:copy-dependencies",
        f"-DoutputDirectory={target}",
        "-DincludeScope=runtime",
        f"-DexcludeTransitive={'false' if bundle.transitive else 'true'}",
    ]
    if settings.maven_mirror:
        maven_settings = work / "settings.xml"
        maven_settings.write_text(_SETTINGS_WITH_MIRROR.format(url=settings.maven_mirror))
        command[1:1] = ["-s", str(maven_settings)]
    print(f"fetching {bundle.name} jars with Maven into {target} ...", flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        source = settings.maven_mirror or "Maven Central"
        if any(sign in output for sign in _NETWORK_SIGNS):
            raise LakehouseError(
                f"could not download the {bundle.name} jars ({', '.join(bundle.artifacts)}): {source} is unreachable",
                hint="check the network or proxy, set LAKEHOUSE_MAVEN_MIRROR to a reachable "
                f"repository, or copy the jars into {target}",
            )
        raise LakehouseError(
            f"Maven failed to fetch the {bundle.name} jars:\n{output[-2000:]}",
            hint=f"run the command by hand to see more: {' '.join(command)}",
        )
    bundle._marker(settings).write_text(bundle._identity())
    return bundle.classpath(settings)


def _dependencies_xml(bundle: JarBundle) -> str:
    exclusions = "".join(
        f"<exclusion><groupId>{group}</groupId><artifactId>{artifact}</artifactId></exclusion>"
        for group, artifact in (excluded.split(":") for excluded in bundle.excluded)
    )
    rows = []
    for coordinates in bundle.artifacts:
        group, artifact, version = coordinates.split(":")
        rows.append(
            f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{version}</version><exclusions>{exclusions}</exclusions></dependency>"
        )
    return "\n".join(rows)
