"""PostgreSQL from Debian's package, run by the project under the data home.

It receives the published gold tables and the batch ledger (`lakehouse publish`), and holds the
Hive metastore in cluster mode. TCP on 127.0.0.1 only, its data kept across restarts in
`$LAKEHOUSE_HOME/postgres`. With a superuser password (LAKEHOUSE_POSTGRES_PASSWORD; cluster mode
makes one), every TCP client logs in with SCRAM; without one, local clients are trusted. The
project itself also reaches the server through a Unix socket in a folder only the server's account
may enter, which is how the password is set at each start, whatever the database was created with.
PostgreSQL refuses to run as root: as root the project runs it as the `postgres` user the Debian
package creates.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import hmac
import os
import pwd
import secrets
import shutil
import signal
import subprocess
from pathlib import Path
from urllib.parse import quote

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
    login = f"{SUPERUSER}:{quote(settings.postgres_password, safe='')}" if settings.postgres_password else SUPERUSER
    return f"postgresql://{login}@127.0.0.1:{settings.postgres_port}/{database}"


def scram_verifier(password: str, iterations: int = 4096, salt: bytes | None = None) -> str:
    """What PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802, as `password_encryption`
    computes it): given to `ALTER ROLE … PASSWORD`, the password itself never reaches the server."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    salt64, stored64, server64 = (base64.b64encode(raw).decode() for raw in (salt, stored_key, server_key))
    return f"SCRAM-SHA-256${iterations}:{salt64}${stored64}:{server64}"


def verifier_matches(password: str, stored: str | None) -> bool:
    """Whether `stored` (a role's verifier, or None) is `password`'s, computed again with its salt."""
    if not stored:
        return False
    try:
        iterations, salt = stored.split("$")[1].split(":")
        return hmac.compare_digest(scram_verifier(password, int(iterations), base64.b64decode(salt)), stored)
    except (ValueError, IndexError):
        return False


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

    @property
    def _socket_dir(self) -> Path:
        return self.settings.postgres_dir / "socket"

    def prepare(self) -> None:
        binaries = postgres_bin()
        if not (self._data_dir / "PG_VERSION").exists():
            self._create_cluster(binaries)
        self._socket_dir.mkdir(mode=0o700, exist_ok=True)
        if self._run_as:
            account = pwd.getpwnam(self._run_as)
            os.chown(self._socket_dir, account.pw_uid, account.pw_gid)
        socket = self._socket_dir / f".s.PGSQL.{self.settings.postgres_port}"
        if len(str(socket)) > 107:
            raise LakehouseError(
                f"the path of PostgreSQL's socket is longer than Unix allows: {socket}",
                hint="set LAKEHOUSE_HOME to a shorter path",
            )
        tcp = "scram-sha-256" if self.settings.postgres_password else "trust"
        (self._data_dir / "pg_hba.conf").write_text(
            "# Written by the project at each start (lakehouse/services/postgres.py).\n"
            "# The socket's folder admits the server's own account only: the project sets passwords there.\n"
            "local all all trust\n"
            f"host all all 127.0.0.1/32 {tcp}\n"
        )

    def _create_cluster(self, binaries: Path) -> None:
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
                    f"unix_socket_directories={self._socket_dir}",
                    "-c",
                    "unix_socket_permissions=0700",
                    "-c",
                    "password_encryption=scram-sha-256",
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
            with psycopg.connect(
                host=str(self._socket_dir),
                port=self.settings.postgres_port,
                user=SUPERUSER,
                dbname="postgres",
                connect_timeout=5,
                autocommit=True,
            ) as db:
                self._set_password(db)
                for database in self._databases():
                    exists = db.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
                    if not exists:
                        db.execute(f'create database "{database}"')
            return True
        except psycopg.OperationalError:
            return False

    def _set_password(self, db) -> None:
        """The superuser's password as configured (TCP clients log in with it when it is set)."""
        from psycopg import sql

        password = self.settings.postgres_password
        if not password:
            return
        (stored,) = db.execute("select rolpassword from pg_authid where rolname = %s", (SUPERUSER,)).fetchone()
        if not verifier_matches(password, stored):
            db.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(SUPERUSER), scram_verifier(password)))
