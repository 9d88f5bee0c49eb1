"""Who may read what: users with a role, the tables each role may read, personal data masked.

Roles, each seeing what the one before it sees:
- `viewer`: gold;
- `analyst`: also silver;
- `admin`: also the ledger, the quarantine, bronze and staging, and personal data unmasked.

Users live in a file of hashed secrets (LAKEHOUSE_USERS_FILE, outside the repository), one line per
user: `name:role:pbkdf2_sha256$iterations$salt$hash`, written by `lakehouse users add|remove`.
With no user in it, serving is open to whoever reaches 127.0.0.1 and every reader is an admin (the
local default; the README says so).

Personal columns are tagged once, in the dbt YAML (`config: {meta: {personal: true}}`); below admin
they are replaced by a stable keyed hash (the same value gives the same hash everywhere, so counts,
joins and filters still work; the key, LAKEHOUSE_MASKING_KEY or a file made once beside the users
file, keeps a short value such as an IP address from being found by hashing every candidate).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

import yaml

from ingestion.config import PROJECT_ROOT
from ingestion.errors import LakehouseError
from lakehouse.settings import settings

ITERATIONS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256
VERIFIED_FOR_S = 300.0
MASKED_LENGTH = 16


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank

    @property
    def unmasked(self) -> bool:
        return self is Role.ADMIN


@dataclass(frozen=True)
class User:
    name: str
    role: Role


OPEN = User("anyone on 127.0.0.1", Role.ADMIN)
"""The reader when the users file names nobody."""

SCHEMA_ROLES = {"gold": Role.VIEWER, "silver": Role.ANALYST}
"""The least role that may read a schema; any other (bronze, staging, reference, ops, the ledger) is admin's."""


def role_for_table(table: str) -> Role:
    """The least role that may read `schema.table`."""
    return SCHEMA_ROLES.get(table.partition(".")[0], Role.ADMIN)


def may_read(user: User, table: str) -> bool:
    return user.role.at_least(role_for_table(table))


def refusal(user: User, table: str) -> str:
    needed = role_for_table(table)
    return f"{user.name} ({user.role}) may not read {table}: it needs {needed}{' or admin' if needed != Role.ADMIN else ''}"


# Secrets ---------------------------------------------------------------------------------------


def hash_secret(secret: str, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${_b64(salt)}${_b64(digest)}"


def secret_matches(secret: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt, digest = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        computed = hashlib.pbkdf2_hmac("sha256", secret.encode(), _unb64(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(computed, _unb64(digest))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


# The users file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    name: str
    role: Role
    secret_hash: str


def _parse_line(line: str, path: Path, number: int) -> Entry:
    name, _, rest = line.partition(":")
    role, _, secret_hash = rest.partition(":")
    if not name or role not in list(Role) or not secret_hash.startswith("pbkdf2_sha256$"):
        raise LakehouseError(
            f"{path}:{number}: not `name:role:pbkdf2_sha256$...`",
            hint="write the file with `lakehouse users add NAME --role viewer|analyst|admin`",
        )
    return Entry(name, Role(role), secret_hash)


def read_users(path: Path | None = None) -> dict[str, Entry]:
    path = path or settings().users_file
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    entries = [
        _parse_line(line, path, n) for n, line in enumerate(lines, 1) if line.strip() and not line.startswith("#")
    ]
    return {entry.name: entry for entry in entries}


def _write_users(entries: dict[str, Entry], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# lakehouse users: name:role:hashed secret (written by `lakehouse users`)\n")
        handle.writelines(
            f"{e.name}:{e.role}:{e.secret_hash}\n" for e in sorted(entries.values(), key=lambda e: e.name)
        )
    partial.replace(path)


def add_user(name: str, role: str, secret: str, path: Path | None = None) -> None:
    path = path or settings().users_file
    if not name or any(c in name for c in ": \t\n"):
        raise LakehouseError(f"user name {name!r} is empty or holds ':' or a space")
    if role not in list(Role):
        raise LakehouseError(f"unknown role {role!r}", hint=f"one of {', '.join(Role)}")
    if len(secret) < 8:
        raise LakehouseError("the password has fewer than 8 characters")
    entries = read_users(path)
    entries[name] = Entry(name, Role(role), hash_secret(secret))
    _write_users(entries, path)


def remove_user(name: str, path: Path | None = None) -> None:
    path = path or settings().users_file
    entries = read_users(path)
    if name not in entries:
        raise LakehouseError(f"no user {name!r} in {path}", hint=f"its users: {', '.join(entries) or 'none'}")
    del entries[name]
    _write_users(entries, path)


class Authenticator:
    """Checks a name and a password against the users file (read again when it changes). A
    PBKDF2 check costs a good part of a second by design: a pair that passed is remembered a few
    minutes, by a keyed digest of the password, never the password itself."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path or settings().users_file
        self._lock = threading.Lock()
        self._stamp: tuple[float, int] | None = None
        self._entries: dict[str, Entry] = {}
        self._key = secrets.token_bytes(32)
        self._verified: dict[tuple[str, bytes], float] = {}

    def _users(self) -> dict[str, Entry]:
        stat = self._path.stat() if self._path.exists() else None
        stamp = (stat.st_mtime, stat.st_size) if stat else None
        if stamp != self._stamp:
            self._entries, self._stamp, self._verified = read_users(self._path), stamp, {}
        return self._entries

    @property
    def open(self) -> bool:
        """No user in the file: every reader is an admin."""
        with self._lock:
            return not self._users()

    def user(self, name: str, secret: str) -> User | None:
        with self._lock:
            entry = self._users().get(name)
            if entry is None:
                return None
            remembered = (name, hmac.digest(self._key, secret.encode(), "sha256"))
            if time.monotonic() - self._verified.get(remembered, -VERIFIED_FOR_S) < VERIFIED_FOR_S:
                return User(name, entry.role)
        if not secret_matches(secret, entry.secret_hash):
            return None
        with self._lock:
            self._verified[remembered] = time.monotonic()
        return User(name, entry.role)


# Personal data ------------------------------------------------------------------------------


@cache
def personal_columns() -> dict[str, frozenset[str]]:
    """`schema.table` → its columns tagged `personal` in the dbt YAML (models and bronze sources),
    and the quarantine's raw records."""
    from lakehouse.serving.catalog import model_docs

    tagged: dict[str, frozenset[str]] = {}
    for layer in ("staging", "silver", "gold"):
        for name, model in model_docs(layer).items():
            columns = frozenset(c["name"] for c in model.get("columns", []) if _is_personal(c))
            if columns:
                tagged[f"{layer}.{name}"] = columns
    sources = yaml.safe_load((PROJECT_ROOT / "models" / "staging" / "_bronze__sources.yml").read_text())
    for source in sources["sources"]:
        for table in source.get("tables", []):
            columns = frozenset(c["name"] for c in table.get("columns", []) if _is_personal(c))
            if columns:
                tagged[f"{source['schema']}.{table['name']}"] = columns
    from ingestion.tables import QUARANTINE

    tagged[QUARANTINE] = frozenset({"raw"})
    return tagged


def _is_personal(column: dict) -> bool:
    return bool((column.get("config") or {}).get("meta", {}).get("personal"))


def personal(table: str) -> frozenset[str]:
    return personal_columns().get(table, frozenset())


def masking_key() -> str:
    """LAKEHOUSE_MASKING_KEY, or one made once and kept beside the users file (mode 0600)."""
    configured = settings().masking_key
    if configured:
        return configured
    path = settings().users_file.with_name("masking.key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def masked(value: object) -> str | None:
    """The masked form of one value, as Spark's `masked_column` computes it."""
    if value is None:
        return None
    digest = hashlib.sha256(f"{masking_key()}{value}".encode()).hexdigest()
    return f"masked:{digest[:MASKED_LENGTH]}"


def masked_column(name: str):
    """A Spark column: the masked form of column `name`, under the same name."""
    from pyspark.sql import functions as F

    digest = F.sha2(F.concat(F.lit(masking_key()), F.col(f"`{name}`").cast("string")), 256)
    return (
        F.when(F.col(f"`{name}`").isNull(), F.lit(None))
        .otherwise(F.concat(F.lit("masked:"), F.substring(digest, 1, MASKED_LENGTH)))
        .alias(name)
    )


def readable_frame(frame, table: str, user: User):
    """`frame` (all of `table`'s columns) as `user` may see it: personal columns masked below admin."""
    from pyspark.sql import functions as F

    hidden = set() if user.role.unmasked else personal(table)
    if not hidden:
        return frame
    return frame.select(*[masked_column(c) if c in hidden else F.col(f"`{c}`") for c in frame.columns])
