"""Folders outside the warehouse — the landing zone and the staging area — on the local disk or HDFS.

A folder is named by the location Spark reads: a local path or an `hdfs://namenode:port/…` URL.
Python reaches HDFS through WebHDFS, the NameNode's HTTP interface (`LAKEHOUSE_HDFS_HTTP_PORT`),
so the ingestion needs no Hadoop client of its own, and a client on another machine sees the same
files as the Spark server.
"""

from __future__ import annotations

import getpass
import io
import os
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

from ingestion.config import settings
from ingestion.errors import LakehouseError

_READ_BUFFER = 1 << 20
"""WebHDFS reads are HTTP range requests: line by line without a buffer, a file takes minutes."""


@dataclass(frozen=True)
class StoredFile:
    folder: Folder
    name: str
    """Relative to the folder, `/`-separated."""
    size: int
    mtime_ns: int

    @property
    def suffix(self) -> str:
        return os.path.splitext(self.name)[1]

    @property
    def mtime(self) -> float:
        return self.mtime_ns / 1e9

    def open(self) -> BinaryIO:
        return self.folder.open(self.name)


class Folder(ABC):
    url: str
    """Where Spark reads it (a local path or an hdfs:// URL)."""

    @abstractmethod
    def child(self, name: str) -> Folder: ...

    @abstractmethod
    def files(self) -> list[StoredFile]:
        """Every file below the folder (hidden ones excepted), by name."""

    @abstractmethod
    def file(self, name: str) -> StoredFile | None:
        """The file of that name, or None when there is none."""

    @abstractmethod
    def open(self, name: str) -> BinaryIO: ...

    @abstractmethod
    def create(self, name: str) -> BinaryIO:
        """A new file (and the folders above it), replacing one of the same name."""

    @abstractmethod
    def remove(self, name: str) -> None: ...

    @abstractmethod
    def clear(self) -> None:
        """Remove the folder and everything in it (none: nothing to do)."""

    @abstractmethod
    def set_mtime(self, name: str, seconds: float) -> None: ...

    def url_of(self, name: str) -> str:
        return f"{self.url}/{name}"

    def put(self, local: Path, name: str, mtime: float | None = None) -> None:
        """Copy a local file in (keeping its modification time, unless given one)."""
        with local.open("rb") as source, self.create(name) as target:
            shutil.copyfileobj(source, target, _READ_BUFFER)
        self.set_mtime(name, local.stat().st_mtime if mtime is None else mtime)


def _visible(name: str) -> bool:
    return not any(part.startswith(".") for part in name.split("/"))


class LocalFolder(Folder):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = str(path)

    def child(self, name: str) -> LocalFolder:
        return LocalFolder(self.path / name)

    def files(self) -> list[StoredFile]:
        if not self.path.is_dir():
            return []
        found = []
        for path in self.path.rglob("*"):
            name = path.relative_to(self.path).as_posix()
            if _visible(name) and (stored := self.file(name)):
                found.append(stored)
        return sorted(found, key=lambda f: f.name)

    def file(self, name: str) -> StoredFile | None:
        try:
            stat = (self.path / name).stat()
        except FileNotFoundError:
            return None
        if not (self.path / name).is_file():
            return None
        return StoredFile(self, name, stat.st_size, stat.st_mtime_ns)

    def open(self, name: str) -> BinaryIO:
        return (self.path / name).open("rb")

    def create(self, name: str) -> BinaryIO:
        (self.path / name).parent.mkdir(parents=True, exist_ok=True)
        return (self.path / name).open("wb")

    def remove(self, name: str) -> None:
        (self.path / name).unlink(missing_ok=True)

    def clear(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def set_mtime(self, name: str, seconds: float) -> None:
        os.utime(self.path / name, (seconds, seconds))


class HdfsFolder(Folder):
    """A folder of HDFS, through WebHDFS on the NameNode's HTTP port (writes go on to a DataNode)."""

    def __init__(self, url: str) -> None:
        from fsspec.implementations.webhdfs import WebHDFS

        parsed = urlparse(url)
        if not parsed.hostname:
            raise LakehouseError(f"{url} names no NameNode", hint="write it as hdfs://namenode:8020/path")
        self.url = url.rstrip("/")
        self.root = parsed.path.rstrip("/") or "/"
        self._fs = WebHDFS(parsed.hostname, port=settings().hdfs_http_port, user=getpass.getuser())

    def child(self, name: str) -> HdfsFolder:
        return HdfsFolder(f"{self.url}/{name}")

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def _stored(self, name: str, info: dict) -> StoredFile:
        # WebHDFS gives modification times in milliseconds.
        return StoredFile(self, name, int(info["size"]), int(info["modificationTime"]) * 1_000_000)

    def files(self) -> list[StoredFile]:
        try:
            found = self._fs.find(self.root, detail=True)
        except FileNotFoundError:
            return []
        prefix = self.root.rstrip("/") + "/"
        stored = [self._stored(path.removeprefix(prefix), info) for path, info in found.items()]
        return sorted((f for f in stored if _visible(f.name)), key=lambda f: f.name)

    def file(self, name: str) -> StoredFile | None:
        try:
            info = self._fs.info(self._path(name))
        except FileNotFoundError:
            return None
        return self._stored(name, info) if info["type"] == "file" else None

    def open(self, name: str) -> BinaryIO:
        return io.BufferedReader(self._fs.open(self._path(name), "rb"), _READ_BUFFER)

    def create(self, name: str) -> BinaryIO:
        return self._fs.open(self._path(name), "wb")

    def remove(self, name: str) -> None:
        self._fs.rm(self._path(name))

    def clear(self) -> None:
        if self._fs.exists(self.root):
            self._fs.rm(self.root, recursive=True)

    def set_mtime(self, name: str, seconds: float) -> None:
        self._fs._call("SETTIMES", method="put", path=self._path(name), modificationtime=int(seconds * 1000))


def folder(location: str) -> Folder:
    """The folder at a local path or an hdfs:// URL."""
    scheme = urlparse(location).scheme
    if scheme == "hdfs":
        return HdfsFolder(location)
    if scheme in ("", "file"):
        return LocalFolder(Path(location.removeprefix("file://")))
    raise LakehouseError(
        f"{location}: the landing zone and staging area can be a local folder or hdfs://, not {scheme}://",
        hint="set LAKEHOUSE_LANDING and LAKEHOUSE_STAGING",
    )


def local_file(path: Path) -> StoredFile:
    """A file of the local disk, as the readers take it."""
    stored = LocalFolder(path.parent).file(path.name)
    if stored is None:
        raise FileNotFoundError(path)
    return stored
