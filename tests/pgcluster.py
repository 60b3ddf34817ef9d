"""A throwaway PostgreSQL server for tests and the kill-test script: ``initdb`` into a temporary
folder, ``pg_ctl start`` listening on a Unix socket in that folder only (``listen_addresses=''``, no
TCP port at all), trust authentication for the one local superuser, stopped and deleted afterwards.

PostgreSQL refuses to run as root. Run as root (CI), the cluster belongs to the ``postgres`` system
user that Debian's ``postgresql`` package creates, and its commands run through ``runuser``; the
folder is made readable by that user. ``PgCluster.find()`` gives the reason a server cannot be
started (no binaries, root without a ``postgres`` user, ...), which tests use as their skip reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Optional


def _bindir() -> Optional[Path]:
    for name in ("FT_PG_BINDIR",):
        if os.environ.get(name):
            return Path(os.environ[name])
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
            if out and (Path(out) / "initdb").exists():
                return Path(out)
        except (OSError, subprocess.SubprocessError):
            pass
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


class PgCluster:
    """A running private server; ``url(db)`` gives a SQLAlchemy URL for one of its databases."""

    def __init__(self, bindir: Path, run_as: Optional[str]) -> None:
        self.bindir = bindir
        self.run_as = run_as
        self.root = Path(tempfile.mkdtemp(prefix="ft-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root  # the socket file is .s.PGSQL.5432 in here
        self.user = run_as or pwd.getpwuid(os.getuid()).pw_name
        self.started = False
        self.tcp_port: Optional[int] = None

    # ------------------------------------------------------------------ finding and starting
    @classmethod
    def find(cls) -> tuple[Optional["PgCluster"], str]:
        """(a cluster ready to ``start()``, "") or (None, why no server can be started here)."""
        bindir = _bindir()
        if bindir is None or not (bindir / "initdb").exists() or not (bindir / "pg_ctl").exists():
            return None, "no PostgreSQL server binaries (initdb, pg_ctl) found: install Debian's 'postgresql' package"
        run_as = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return None, "running as root and there is no 'postgres' user to run a test server as"
            if not shutil.which("runuser"):
                return None, "running as root and 'runuser' is missing (needed to start the server as 'postgres')"
            run_as = "postgres"
        return cls(bindir, run_as), ""

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def _run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        proc = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=timeout, cwd=str(self.root))
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-800:]}")
        return proc

    def start(self, *, timezone: str = "Europe/Berlin", fsync: bool = False, tcp_port: Optional[int] = None) -> "PgCluster":
        """initdb + start. The server's TimeZone is deliberately not UTC, so naive timestamps would show.
        ``fsync`` is off for tests: they kill clients, never the server, so its flushes change nothing
        they check (the kill-test script turns it on). ``tcp_port``: also listen on 127.0.0.1 there
        (the bundle's smoke test checks the app connects to exactly that address)."""
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            os.chmod(self.root, 0o700)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
                  "--no-sync")
        listen = f"-c listen_addresses=127.0.0.1 -p {tcp_port}" if tcp_port else "-c listen_addresses=''"
        self.tcp_port = tcp_port
        opts = (f"-k {self.socket_dir} {listen} -c fsync={'on' if fsync else 'off'} -c timezone={timezone} "
                "-c max_connections=60 -c shared_buffers=32MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", opts, "-w", "-t", "60",
                  "start")
        self.started = True
        return self

    def stop(self) -> None:
        if self.started:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", timeout=60)
            except Exception:
                pass
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ databases
    def url(self, database: str = "postgres", *, tcp: bool = False) -> str:
        if tcp:
            return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.tcp_port}/{database}"
        port = f"&port={self.tcp_port}" if self.tcp_port else ""
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.socket_dir}{port}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        return self._run("psql", "-X", "-q", "-t", "-A", "-h", str(self.socket_dir), "-p", str(self.tcp_port or 5432),
                         "-U", self.user, "-d", database,
                         "-c", sql).stdout

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE) as the superuser."""
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), port=self.tcp_port or 5432, user=self.user, dbname=database,
                             autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: Optional[str] = None) -> str:
        """A new empty database; returns its URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


__all__ = ["PgCluster"]
