"""Backups of the store, each verified restorable before it counts, the last ``backup_keep`` kept.

* SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent snapshot in
  one step; in WAL mode that read never blocks the runner's writes. Verified by opening the copy,
  ``PRAGMA integrity_check`` and counting the rows of every table.
* PostgreSQL: ``pg_dump -Fc``; verified by ``pg_restore --list`` naming every table's data.
* MySQL/MariaDB: ``mysqldump --single-transaction`` (or ``mariadb-dump``), gzipped; verified by the
  dump's completion marker on its last line.

A backup is written under a temporary name and renamed only once verified, so a file named like a
backup is always a good one. Passwords go to the tools through their environment or a private
options file, never on a command line other users could read.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from smartcron.errors import StoreError
from smartcron.store.schema import metadata

log = logging.getLogger(__name__)

EXTENSIONS = {"sqlite": "sqlite3", "postgresql": "pgdump", "mysql": "sql.gz"}
NAME = re.compile(
    r"^smartcron-(?P<dialect>sqlite|postgresql|mysql)-(?P<stamp>\d{8}T\d{6}Z)\.(?P<ext>sqlite3|pgdump|sql\.gz)$"
)
DUMP_COMPLETED = b"-- Dump completed"
TOOL_TIMEOUT = 6 * 3600.0
"""A dump that takes longer than this is stuck, not slow."""


@dataclass(frozen=True, slots=True)
class Backup:
    path: Path
    dialect: str
    size_bytes: int
    verified: str
    """What the verification saw, for people ("integrity ok, 12 tables, 340 rows")."""
    removed: tuple[str, ...] = ()
    """Older backups deleted to keep the last ``backup_keep``."""

    def to_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "dialect": self.dialect,
            "size_bytes": self.size_bytes,
            "verified": self.verified,
            "removed": list(self.removed),
        }


def _dialect(url: URL) -> str:
    backend = url.get_backend_name()
    return "mysql" if backend in ("mysql", "mariadb") else backend


def backup_name(dialect: str, now: datetime) -> str:
    return f"smartcron-{dialect}-{now.strftime('%Y%m%dT%H%M%SZ')}.{EXTENSIONS[dialect]}"


def list_backups(backup_dir: str | Path, dialect: str | None = None) -> list[Path]:
    """Verified backups in ``backup_dir``, oldest first."""
    directory = Path(backup_dir)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = NAME.match(path.name)
        if match and (dialect is None or match["dialect"] == dialect):
            found.append((match["stamp"], path))
    return [path for _stamp, path in sorted(found)]


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise StoreError(f"{' or '.join(names)} not found: install the database's client tools to back it up")


def _failure(argv: list[str], code: int, stderr: bytes) -> StoreError:
    detail = stderr.decode("utf-8", "replace").strip().splitlines()
    return StoreError(f"{Path(argv[0]).name} failed: {detail[-1] if detail else f'exit {code}'}")


def _run(argv: list[str], *, env: dict[str, str] | None = None) -> bytes:
    """Run a client tool to the end; its standard output, or StoreError with its last error line."""
    try:
        result = subprocess.run(argv, env=env, capture_output=True, timeout=TOOL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise StoreError(f"{Path(argv[0]).name} did not finish within {TOOL_TIMEOUT:.0f} s") from None
    if result.returncode != 0:
        raise _failure(argv, result.returncode, result.stderr)
    return result.stdout


def _stream(argv: list[str], *, source: io.BufferedIOBase | None = None, sink: io.BufferedIOBase | None = None) -> None:
    """Run a client tool feeding it ``source`` or copying its output to ``sink``, never holding a
    whole dump in memory."""
    with (
        tempfile.TemporaryFile() as stderr,
        subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if source else subprocess.DEVNULL,
            stdout=subprocess.PIPE if sink else subprocess.DEVNULL,
            stderr=stderr,
        ) as tool,
    ):
        if source is not None and tool.stdin is not None:
            with contextlib.suppress(BrokenPipeError):  # the tool gave up; its exit status says why
                shutil.copyfileobj(source, tool.stdin, 1024 * 1024)
            tool.stdin.close()
        if sink is not None and tool.stdout is not None:
            shutil.copyfileobj(tool.stdout, sink, 1024 * 1024)
        code = tool.wait(timeout=TOOL_TIMEOUT)
        stderr.seek(0)
        if code != 0:
            raise _failure(argv, code, stderr.read())


# -- SQLite -------------------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise StoreError("an in-memory SQLite database cannot be backed up")
    return url.database


def _sqlite_copy(source_path: str, target_path: Path) -> None:
    source = sqlite3.connect(source_path, timeout=30)
    target = sqlite3.connect(target_path)
    try:
        with target:
            source.backup(target)  # every page in one step: one consistent snapshot
    except sqlite3.Error as exc:
        raise StoreError(f"SQLite backup failed: {exc}") from exc
    finally:
        target.close()
        source.close()


def _verify_sqlite(path: Path) -> str:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (verdict,) = connection.execute("PRAGMA integrity_check").fetchone()
            counts = {
                table.name: connection.execute(f'SELECT COUNT(*) FROM "{table.name}"').fetchone()[0]  # noqa: S608
                for table in metadata.sorted_tables
            }
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise StoreError(f"backup {path.name} cannot be read: {exc}") from exc
    if verdict != "ok":
        raise StoreError(f"backup {path.name} failed its integrity check: {verdict}")
    return f"integrity ok, {len(counts)} tables, {sum(counts.values())} rows"


# -- PostgreSQL ---------------------------------------------------------------------------------------


def _pg_env(url: URL, database: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PGHOST": url.host or "localhost",
            "PGPORT": str(url.port or 5432),
            "PGUSER": url.username or "postgres",
            "PGDATABASE": database or url.database or "",
        }
    )
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env


def _pg_dump(url: URL, target: Path) -> None:
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"], env=_pg_env(url))


def _verify_pg(path: Path) -> str:
    listing = _run([_tool("pg_restore"), "--list", str(path)]).decode("utf-8", "replace")
    missing = [t.name for t in metadata.sorted_tables if not re.search(rf"TABLE DATA \S+ {t.name} ", listing)]
    if missing:
        raise StoreError(f"backup {path.name} lacks the data of {', '.join(missing)}")
    return f"pg_restore lists the data of all {len(metadata.sorted_tables)} tables"


# -- MySQL / MariaDB ----------------------------------------------------------------------------------


@contextmanager
def _mysql_options(url: URL) -> Iterator[str]:
    """A private options file with the connection (the password stays off the command line)."""
    handle, name = tempfile.mkstemp(prefix="smartcron-my-", suffix=".cnf")
    try:
        with os.fdopen(handle, "w") as options:
            options.write("[client]\n")
            options.write(f"host={url.host or 'localhost'}\nport={url.port or 3306}\nuser={url.username or 'root'}\n")
            if url.password:
                options.write(f"password={url.password}\n")
            options.write("default-character-set=utf8mb4\n")
        yield name
    finally:
        os.unlink(name)


def _mysql_dump(url: URL, target: Path) -> None:
    with _mysql_options(url) as options, gzip.open(target, "wb") as sink:
        argv = [
            _tool("mariadb-dump", "mysqldump"),
            f"--defaults-extra-file={options}",
            "--single-transaction",
            "--quick",
            "--hex-blob",
            "--no-tablespaces",
            str(url.database),
        ]
        _stream(argv, sink=sink)


def _verify_mysql(path: Path) -> str:
    tail = b""
    try:
        with gzip.open(path, "rb") as dump:
            while chunk := dump.read(1024 * 1024):
                tail = (tail + chunk)[-4096:]
    except (OSError, EOFError) as exc:
        raise StoreError(f"backup {path.name} cannot be read: {exc}") from exc
    last = tail.rstrip().rsplit(b"\n", 1)[-1]
    if not last.startswith(DUMP_COMPLETED):
        raise StoreError(f"backup {path.name} is incomplete: no completion marker at its end")
    return last.decode("utf-8", "replace")


# -- the steps --------------------------------------------------------------------------------------


def verify_backup(path: str | Path) -> str:
    """Check that a backup can be restored; returns what was seen, raises StoreError if not."""
    path = Path(path)
    match = NAME.match(path.name.removesuffix(".partial"))
    if match is None:
        raise StoreError(f"{path.name} is not a smartcron backup")
    verify = {"sqlite": _verify_sqlite, "postgresql": _verify_pg, "mysql": _verify_mysql}[match["dialect"]]
    return verify(path)


def prune_backups(backup_dir: str | Path, dialect: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups of ``dialect``; returns what went."""
    backups = list_backups(backup_dir, dialect)
    doomed = backups[: max(0, len(backups) - keep)]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def backup_database(database_url: str, backup_dir: str | Path, now: datetime, *, keep: int) -> Backup:
    """Back up the database at ``database_url`` into ``backup_dir``, verify it, keep the last ``keep``."""
    url = make_url(database_url)
    dialect = _dialect(url)
    directory = Path(backup_dir)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / backup_name(dialect, now)
    partial = final.with_name(final.name + ".partial")
    try:
        if dialect == "sqlite":
            _sqlite_copy(_sqlite_path(url), partial)
        elif dialect == "postgresql":
            _pg_dump(url, partial)
        else:
            _mysql_dump(url, partial)
        os.chmod(partial, 0o600)  # a backup holds everything the database does
        verified = verify_backup(partial)
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    removed = prune_backups(directory, dialect, keep)
    backup = Backup(final, dialect, final.stat().st_size, verified, tuple(str(p) for p in removed))
    log.info("backup %s written and verified: %s", final.name, verified, extra={"action": "backup"})
    return backup


def restore_backup(path: str | Path, database_url: str) -> None:
    """Load a backup into the (empty) database at ``database_url``: disaster recovery and tests."""
    path = Path(path)
    verify_backup(path)
    url = make_url(database_url)
    dialect = _dialect(url)
    if not path.name.startswith(f"smartcron-{dialect}-"):
        raise StoreError(f"{path.name} is not a {dialect} backup")
    if dialect == "sqlite":
        _sqlite_copy(str(path), Path(_sqlite_path(url)))
    elif dialect == "postgresql":
        _run(
            [
                _tool("pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={url.database}",
                str(path),
            ],
            env=_pg_env(url),
        )
    else:
        with _mysql_options(url) as options, gzip.open(path, "rb") as dump:
            _stream([_tool("mariadb", "mysql"), f"--defaults-extra-file={options}", str(url.database)], source=dump)
