"""manage.py: asking for help starts neither PostgreSQL nor the scheduler."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from tests.test_embedded_lifecycle import postmasters

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def data_dir():
    """Where an embedded server would put its data; any server found there is stopped."""
    tmp = Path(tempfile.mkdtemp(prefix="hospital-manage-"))
    path = tmp / "pgdata"
    yield path
    for proc in postmasters(path):
        try:
            proc.send_signal(signal.SIGINT)
            proc.wait(15)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            proc.kill()
    shutil.rmtree(tmp, ignore_errors=True)


def manage(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": "",
           "EMBEDDED_PG_DIR": str(data_dir), "HOSPITAL_NO_VENV": "1", "LOG_LEVEL": "INFO"}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def assert_nothing_started(data_dir: Path, result: subprocess.CompletedProcess) -> None:
    assert not data_dir.exists(), "an embedded PostgreSQL was set up"
    assert postmasters(data_dir) == []
    assert "Scheduler started" not in result.stderr
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize("args", [("--help",), ("-h",), ()], ids=["--help", "-h", "no-args"])
def test_help_starts_nothing_and_lists_every_command(data_dir, args):
    result = manage(data_dir, *args)
    assert_nothing_started(data_dir, result)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for command in ("test", "db", "create-admin", "bootstrap-admin", "run", "shell", "routes"):
        assert f"\n  {command} " in text, (command, text)
    # How `run` (= `flask run`) differs from `python3 run.py`.
    flat = " ".join(text.split())
    assert "python3 run.py" in flat
    assert "flask run" in flat
    for fact in ("virtualenv", "migrations", "first admin", "waitress", "reload"):
        assert fact in flat, (fact, text)


@pytest.mark.parametrize("command", ["db", "create-admin", "run", "routes"])
def test_a_commands_help_starts_nothing(data_dir, command):
    result = manage(data_dir, command, "--help")
    assert result.returncode == 0, result.stderr
    assert_nothing_started(data_dir, result)
    assert "Usage: manage.py " + command in result.stdout


def test_routes_needs_no_database(data_dir):
    result = manage(data_dir, "routes")
    assert result.returncode == 0, result.stderr
    assert_nothing_started(data_dir, result)
    assert "/users/login" in result.stdout


def test_test_help_is_pytests(data_dir):
    result = manage(data_dir, "test", "--help")
    assert result.returncode == 0, result.stderr
    assert_nothing_started(data_dir, result)
    assert "usage:" in result.stdout and "pytest" in result.stdout
