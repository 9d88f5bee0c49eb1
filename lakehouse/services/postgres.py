"""PostgreSQL from Debian's package, run by the project under the data home.

It receives the published gold tables and the batch ledger (`lakehouse publish`). TCP on
127.0.0.1 only (no Unix socket), password-less for local clients, its data kept across restarts
in `$LAKEHOUSE_HOME/postgres`. PostgreSQL refuses to run as root: as root the project runs it as
the `postgres` user the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

from ingestion.errors import LakehouseError
from ingestion.network import Port
from lakehouse.services.service import Service
from lakehouse.settings import settings

SUPERUSER = "lakehouse"
DATABASE = "lakehouse"
INSTALL_HINT = "install Debian's package: `make postgres` (apt-get install postgresql), or set LAKEHOUSE_POSTGRES_BIN"


def postgres_bin() -> Path:
    """The directory holding `postgres` and `initdb`: LAKEHOUSE_POSTGRES_BIN, PATH, or Debian's newest."""
    configured = settings().postgres_bin
    candidates = [configured] if configured else []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    candidates += reversed(debian)
    for folder in candidates:
        if (Path(folder) / "postgres").exists() and (Path(folder) / "initdb").exists():
            return Path(folder)
    raise LakehouseError("PostgreSQL is not installed (no `postgres` and `initdb` found)", hint=INSTALL_HINT)


def local_url(settings, database: str = DATABASE) -> str:
    return f"postgresql://{SUPERUSER}@127.0.0.1:{settings.postgres_port}/{database}"


class PostgresServer(Service):
    name = "postgres"
    marker = "postgres"
    runs_on_java = False
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for every client to leave

    @property
    def _run_as(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def _as_owner(self, argv: list[str]) -> list[str]:
        """`argv`, run as the server's account when we are root. Through `setpriv` (which execs)
        rather than Popen(user=...): that forks, and a fork in a process holding gRPC threads (a Spark
        Connect client) crashes the child."""
        if not self._run_as:
            return argv
        return ["setpriv", f"--reuid={self._run_as}", f"--regid={self._run_as}", "--init-groups", "--", *argv]

    @property
    def _data_dir(self) -> Path:
        return self.settings.postgres_dir / "data"

    def ports(self) -> list[Port]:
        return [Port("postgres", "127.0.0.1", self.settings.postgres_port)]

    def prepare(self) -> None:
        binaries = postgres_bin()
        if (self._data_dir / "PG_VERSION").exists():
            return
        self._data_dir.mkdir(parents=True, exist_ok=True)
        if self._run_as:
            account = pwd.getpwnam(self._run_as)
            for folder in (self.settings.postgres_dir, self._data_dir):
                os.chown(folder, account.pw_uid, account.pw_gid)
        self._data_dir.chmod(0o700)
        result = subprocess.run(
            self._as_owner(
                [
                    str(binaries / "initdb"),
                    "--pgdata",
                    str(self._data_dir),
                    "--username",
                    SUPERUSER,
                    "--auth",
                    "trust",
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C.UTF-8",
                ]
            ),
            capture_output=True,
            text=True,
            cwd=self.settings.postgres_dir,
        )
        if result.returncode != 0:
            raise LakehouseError(
                f"initdb in {self._data_dir} failed:\n{result.stdout}{result.stderr}",
                hint="`lakehouse clean` wipes the data home if it holds a broken database",
            )
        print(f"postgres: created a database cluster in {self._data_dir}", flush=True)

    def command(self, java: str) -> tuple[list[str], dict[str, str]]:
        return (
            self._as_owner(
                [
                    str(postgres_bin() / "postgres"),
                    "-D",
                    str(self._data_dir),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-p",
                    str(self.settings.postgres_port),
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    f"lakehouse.service={self.marker}",
                ]
            ),
            {},
        )

    def _databases(self) -> list[str]:
        """The published gold's, and the Hive metastore's when it lives in this server (cluster mode)."""
        own = f"//127.0.0.1:{self.settings.postgres_port}/"
        url = self.settings.spark_metastore_url
        metastore = [url.split(own, 1)[1].split("?")[0]] if self.settings.metastore_in_postgres and own in url else []
        return [DATABASE, *metastore]

    def is_ready(self) -> bool:
        if not super().is_ready():
            return False
        import psycopg

        try:
            with psycopg.connect(local_url(self.settings, "postgres"), connect_timeout=5, autocommit=True) as db:
                for database in self._databases():
                    exists = db.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
                    if not exists:
                        db.execute(f'create database "{database}"')
            return True
        except psycopg.OperationalError:
            return False
