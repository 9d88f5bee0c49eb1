"""An S3 server for an `s3a://` warehouse: SeaweedFS (master, volume, filer and S3 gateway in one
process), built from its Go module with the Go toolchain the first time, like the jars are fetched.

It serves only when `LAKEHOUSE_SPARK_WAREHOUSE` is `s3a://<bucket>/…` and the endpoint is its own
(`AppSettings.serves_s3`); it creates the bucket, and credentials of its own kept under the data home
unless `LAKEHOUSE_S3_ACCESS_KEY`/`_SECRET_KEY` are set. Every port binds to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import psutil

from ingestion.errors import LakehouseError
from ingestion.network import Port
from lakehouse.services.service import Service
from lakehouse.settings import AppSettings

MODULE = "github.com/seaweedfs/seaweedfs"
VERSION = "v0.0.0-20261109003541-7506e5f91cd6"
"""The newest the Go module proxy serves (SeaweedFS tags releases outside Go's version scheme)."""


def weed_binary(settings: AppSettings) -> Path:
    """`weed`: LAKEHOUSE_WEED, or built once into the cache (a few minutes: a large Go program)."""
    if settings.weed:
        return Path(settings.weed)
    target = settings.cache / "bin" / f"weed-{VERSION}"
    if target.exists():
        return target
    go = shutil.which("go")
    if go is None:
        raise LakehouseError(
            "the S3 server (SeaweedFS) is not built yet and Go is not installed to build it",
            hint="install Go (https://go.dev/dl), or set LAKEHOUSE_WEED to a `weed` binary",
        )
    env = {**os.environ, "GOPATH": str(settings.cache / "go"), "GOFLAGS": "-modcacherw"}
    print(f"building SeaweedFS {VERSION} with Go into {target} (a few minutes, once) ...", flush=True)
    # `go install module@version` refuses a module with replace directives: build it as the main module.
    download = _go(env, [go, "mod", "download", "-json", f"{MODULE}@{VERSION}"], settings.cache)
    source = settings.cache / "go" / "build" / "seaweedfs"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(json.loads(download)["Dir"], source)
    target.parent.mkdir(parents=True, exist_ok=True)
    _go(env, [go, "build", "-o", str(target), "./weed"], source)
    return target


def _go(env: dict[str, str], argv: list[str], cwd: Path) -> str:
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise LakehouseError(
            f"`{' '.join(argv[:3])}` failed while building SeaweedFS:\n{result.stderr[-2000:]}",
            hint="check the Go module proxy is reachable (GOPROXY), or set LAKEHOUSE_WEED",
        )
    return result.stdout


def s3_credentials(settings: AppSettings) -> tuple[str, str]:
    """The warehouse's S3 keys: from the settings, or the project server's own (made once)."""
    if settings.s3_access_key:
        return settings.s3_access_key, settings.s3_secret_key
    path = settings.home / "seaweedfs" / "credentials.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps({"access_key": "lakehouse", "secret_key": secrets.token_urlsafe(24)}))
    keys = json.loads(path.read_text())
    return keys["access_key"], keys["secret_key"]


def s3a_conf(settings: AppSettings) -> dict[str, str]:
    """Spark's settings for an s3a:// warehouse on the endpoint (path-style, as S3-compatible servers
    want; plain HTTP for an endpoint on this machine)."""
    access_key, secret_key = s3_credentials(settings)
    return {
        "spark.hadoop.fs.s3a.endpoint": settings.s3_endpoint,
        "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": str(settings.s3_endpoint.startswith("https:")).lower(),
        "spark.hadoop.fs.s3a.access.key": access_key,
        "spark.hadoop.fs.s3a.secret.key": secret_key,
    }


class SeaweedS3(Service):
    name = "s3"
    marker = "s3"
    runs_on_java = False

    @property
    def _dir(self) -> Path:
        return self.settings.home / "seaweedfs"

    def _port(self, offset: int) -> int:
        return self.settings.s3_port + offset

    def ports(self) -> list[Port]:
        return [Port("s3", "127.0.0.1", self._port(0)), Port("filer", "127.0.0.1", self._port(6))]

    def _owns(self, process: psutil.Process) -> bool:
        return f"-dir={self._dir / 'data'}" in process.cmdline()

    def prepare(self) -> None:
        self._weed = weed_binary(self.settings)
        (self._dir / "data").mkdir(parents=True, exist_ok=True)
        access_key, secret_key = s3_credentials(self.settings)
        identity = {"name": "lakehouse", "credentials": [{"accessKey": access_key, "secretKey": secret_key}]}
        identity["actions"] = ["Admin", "Read", "Write", "List", "Tagging"]
        config = self._dir / "s3.json"
        config.touch(mode=0o600)
        config.write_text(json.dumps({"identities": [identity]}))

    def command(self, java: str) -> tuple[list[str], dict[str, str]]:
        p = self._port
        argv = [
            str(self._weed),
            "server",
            f"-dir={self._dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={p(0)}",
            f"-s3.port.grpc={p(1)}",
            f"-master.port={p(2)}",
            f"-master.port.grpc={p(3)}",
            f"-volume.port={p(4)}",
            f"-volume.port.grpc={p(5)}",
            "-filer",
            f"-filer.port={p(6)}",
            f"-filer.port.grpc={p(7)}",
            f"-filer.localSocket={self.settings.tmp_dir / f'seaweedfs-filer-{p(6)}.sock'}",
            "-s3",
            f"-s3.config={self._dir / 's3.json'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=1024",
            "-metricsPort=0",
        ]
        return argv, {}

    def start(self):
        status = super().start()
        self._create_bucket()
        return status

    def _create_bucket(self) -> None:
        """A bucket of SeaweedFS is a folder under the filer's /buckets (idempotent)."""
        bucket = urlparse(self.settings.spark_warehouse).netloc
        url = f"http://127.0.0.1:{self._port(6)}/buckets/{bucket}/?op=mkdir"
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30).close()
        except urllib.error.URLError as error:
            raise LakehouseError(
                f"could not create the S3 bucket {bucket}: {error}", hint=f"see {self.log_file}"
            ) from None
