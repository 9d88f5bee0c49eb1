"""The Thrift server's login (LakehouseLogin.java), compiled once per version of its source.

Spark's Thrift server checks passwords only through LDAP, PAM, Kerberos or a class of its own
(`hive.server2.authentication=CUSTOM`); the class here checks the lakehouse's own credentials, so
that Thrift, the API and the dashboard know the same users.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from ingestion.errors import LakehouseError
from lakehouse.settings import AppSettings

LOGIN_CLASS = "lakehouse.LakehouseLogin"
SOURCE = Path(__file__).with_name("LakehouseLogin.java")


def javac(java: str) -> str:
    """The compiler of the JDK whose `java` runs the server, so that the class suits that runtime."""
    found = Path(java).resolve().with_name("javac")
    if not found.exists():
        raise LakehouseError(
            f"the Thrift server's login is compiled with a JDK's javac, and none is beside {java}",
            hint="install a JDK 17 or newer (Debian: openjdk-17-jdk-headless) and point JAVA_HOME at it",
        )
    return str(found)


def compiled_login(settings: AppSettings, java: str, spark_jars: Path) -> Path:
    """The folder of the compiled class (for the server's class path), compiled against Spark's
    jars when missing."""
    version = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    classes = settings.cache / "thrift-login" / version
    if (classes / "lakehouse" / "LakehouseLogin.class").exists():
        return classes
    partial = classes.with_name(f"{version}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    result = subprocess.run(
        [javac(java), "-nowarn", "-d", str(partial), "-cp", str(spark_jars / "*"), str(SOURCE)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise LakehouseError(f"the Thrift server's login did not compile:\n{result.stdout}{result.stderr}")
    shutil.rmtree(classes, ignore_errors=True)
    partial.replace(classes)
    return classes
