"""PostgreSQL 15, installed and started by the tests themselves.

Imported as ``servers.postgres``. The Debian package ``postgresql`` is installed with
apt-get when its binaries are missing (the tests run as root on Debian 12, as CI does);
each test session then initdb's a cluster in a temporary folder owned by the
``postgres`` user (initdb refuses root), starts it on a free loopback port with fsync
off, and stops it when the session ends. Each test gets a database of its own, made by
``CREATE DATABASE ... TEMPLATE``: a copy of a template that is already migrated costs
a few milliseconds where migrating would cost a second.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from servers.azurite import free_port
from servers.install_lock import installing

if TYPE_CHECKING:
    from collections.abc import Iterator

PG_VERSION = "15"
BIN_DIR = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
_USER = "postgres"
_START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be installed or started (not root, apt-get failed...)."""


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL cluster on 127.0.0.1: where it listens."""

    port: int
    data_dir: Path

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg 3 driver)."""
        return f"postgresql+psycopg://{_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str = "template0") -> str:
        """A new, uniquely named database copied from ``template``; its URL."""
        name = f"t{uuid.uuid4().hex[:16]}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def execute(self, statement: str) -> None:
        """Run one statement outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=_USER, dbname="postgres"
        ) as conn:
            conn.autocommit = True
            conn.execute(statement.encode())


def postgres_binaries() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``, installing the package first if needed.

    Raises:
        PostgresUnavailable: not root, or apt-get failed.
    """
    if (BIN_DIR / "initdb").exists() and (BIN_DIR / "pg_ctl").exists():
        return BIN_DIR
    with installing("postgresql"):  # two apt-get runs at once: one fails on dpkg's lock
        if (BIN_DIR / "initdb").exists() and (BIN_DIR / "pg_ctl").exists():
            return BIN_DIR
        _install()
    return BIN_DIR


def _install() -> None:
    """``apt-get install postgresql`` (as root, on Debian)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresUnavailable(
            f"the server tests need PostgreSQL {PG_VERSION} ({BIN_DIR} is missing); "
            "install it (apt-get install -y postgresql) or run the tests as root on "
            "Debian, where they install it themselves."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=900, check=False, env=env
        )
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(args)} failed (exit {done.returncode}): "
                f"{done.stderr.strip()[-2000:]}"
            )
    if not (BIN_DIR / "initdb").exists():
        raise PostgresUnavailable(f"apt-get installed postgresql but not {BIN_DIR}")


def _as_postgres(args: list[str], what: str) -> None:
    # initdb and the server refuse to run as root: they run as the package's user
    command = args if os.geteuid() != 0 else ["runuser", "-u", _USER, "--", *args]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=_START_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise PostgresUnavailable(
            f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}"
        )


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    """initdb a cluster in a new temporary folder and start it; on leaving, always,
    stop it and remove the folder.

    The folder is made directly in the system's temporary folder, not in pytest's:
    pytest makes its own base folder private (0700) at every session start, which
    would lock the ``postgres`` user out of a cluster another session is running.

    Raises:
        PostgresUnavailable: it could not be installed, initialised or started.
    """
    binaries = postgres_binaries()
    folder = Path(tempfile.mkdtemp(prefix="dataferry-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, _USER, _USER)
        data = folder / "data"
        initdb = [str(binaries / "initdb"), "-D", str(data), "-A", "trust"]
        _as_postgres([*initdb, "-U", _USER, "--no-sync", "-E", "UTF8"], "initdb")
        port = free_port()
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += " -c max_connections=200"
        pg_ctl = [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "log")]
        _as_postgres([*pg_ctl, "-w", "-o", options, "start"], "pg_ctl start")
        try:
            yield Postgres(port, data)
        finally:
            _stop(data / "postmaster.pid")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _stop(pid_file: Path) -> None:
    """Stop the server by its pid, as root (``pg_ctl stop`` would need the
    ``postgres`` user to reach the temporary folder still): SIGQUIT is an immediate
    shutdown, which ends its children too; SIGKILL if it outlives the wait."""
    pid = int(pid_file.read_text().split()[0])
    for sig in (signal.SIGQUIT, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
