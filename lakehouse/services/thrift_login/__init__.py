"""The Thrift server's login (LakehouseLogin.java), compiled once per version of its source.

Spark's Thrift server checks passwords only through LDAP, PAM, Kerberos or a class of its own
(`hive.server2.authentication=CUSTOM`); the class here checks the lakehouse's own credentials, so
that Thrift, the API and the dashboard know the same users.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from ingestion.errors import LakehouseError
from lakehouse.settings import AppSettings

LOGIN_CLASS = "lakehouse.LakehouseLogin"
SOURCE = Path(__file__).with_name("LakehouseLogin.java")


def javac() -> str:
    java_home = os.environ.get("JAVA_HOME")
    found = str(Path(java_home) / "bin" / "javac") if java_home else shutil.which("javac")
    if not found or not Path(found).exists():
        raise LakehouseError(
            "the Thrift server's login needs a JDK (no `javac` beside JAVA_HOME or on PATH)",
            hint="install a JDK 17 or newer (Debian: openjdk-17-jdk-headless)",
        )
    return found


def compiled_login(settings: AppSettings, spark_jars: Path) -> Path:
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
        [javac(), "-nowarn", "-d", str(partial), "-cp", str(spark_jars / "*"), str(SOURCE)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise LakehouseError(f"the Thrift server's login did not compile:\n{result.stdout}{result.stderr}")
    shutil.rmtree(classes, ignore_errors=True)
    partial.replace(classes)
    return classes
