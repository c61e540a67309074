"""Sample the waitress process with py-spy while wrk drives it, and summarise the stacks.

One wall-clock recording (`py-spy record --idle`) per endpoint: every thread, blocked or
not. Worker-thread samples taken while a request is being handled say where a request's time
goes: DB round trips (a thread waiting on libpq shows as the SQLAlchemy frame that called the
driver — including the wait to get the GIL back afterwards), the access log, and Python
work. The samples in Python work (the rest) approximate where the server's CPU goes: the
process is one GIL, so that is what limits requests/s once it uses a full core.
(`py-spy --gil` finds the GIL holder in only a small fraction of samples on this Python, so
it is not used.)
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.paths import VENV_BIN

PY_SPY_VERSION = "0.4.3"
RATE = 250  # samples per second

# innermost frame function -> what the thread is waiting for
DB_CALLS = {
    "do_ping": "DB round trip: pool pre-ping (SELECT 1)",
    "do_rollback": "DB round trip: ROLLBACK (session end)",
    "do_commit": "DB round trip: COMMIT",
    "do_execute": "DB round trip: query",
    "do_executemany": "DB round trip: query",
    "do_execute_no_params": "DB round trip: query",
    "fetchall": "DB: fetch rows",
    "fetchone": "DB: fetch rows",
    "connect": "DB: new connection",
}
# The statements app/database/autocommit.py hands straight to the driver (caller lookup,
# booking, generations): a sample whose innermost frame is this function waits for the driver.
RAW_DB_FILE = "app/database/autocommit.py"
RAW_DB_CALLS = {"fetch_first": "DB round trip: autocommit statement"}
# file prefix (as py-spy prints it) -> component
COMPONENTS = [
    ("sqlalchemy/", "SQLAlchemy (Python)"),
    ("psycopg2/", "psycopg2"),
    ("flask_restx/", "flask-restx"),
    ("flask_jwt_extended/", "JWT (minting: flask_jwt_extended)"),
    ("jwt/", "JWT (checking: PyJWT)"),
    ("flask_caching/", "Flask-Caching/cachelib"),
    ("cachelib/", "Flask-Caching/cachelib"),
    ("flask_limiter/", "Flask-Limiter/limits"),
    ("limits/", "Flask-Limiter/limits"),
    ("flask_cors/", "Flask-CORS"),
    ("flask_sqlalchemy/", "Flask-SQLAlchemy"),
    ("flask/", "Flask"),
    ("werkzeug/", "Werkzeug"),
    ("waitress/", "waitress"),
    ("logging/", "logging (access log; includes waiting for its lock)"),
    ("json/", "json"),
    ("app/", "project code (app/)"),
    ("bench/", "ceiling app"),
    ("threading.py", "thread synchronisation"),
]


def ensure_py_spy() -> str:
    """py-spy from PyPI, installed into the project's virtualenv when missing."""
    local = VENV_BIN / "py-spy"
    if local.exists():
        return str(local)
    found = shutil.which("py-spy")
    if found:
        return found
    print(f"Installing py-spy=={PY_SPY_VERSION} into the virtualenv ...", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    f"py-spy=={PY_SPY_VERSION}"], check=True)
    return str(local)


def start_record(py_spy: str, pid: int, out: Path, duration_s: int) -> subprocess.Popen:
    """Start `py-spy record --idle` (collapsed stacks of every thread) on `pid`."""
    cmd = [py_spy, "record", "--pid", str(pid), "--duration", str(duration_s),
           "--rate", str(RATE), "--format", "raw", "--threads", "--idle", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _func(frame: str) -> str:
    return frame.split(" (", 1)[0].strip()


def _file(frame: str) -> str:
    inner = frame.rsplit(" (", 1)[-1].rstrip(")")
    return inner.rsplit(":", 1)[0]


def _label(frame: str) -> str:
    return f"{_func(frame)} ({_file(frame)})"


def component(frame: str) -> str:
    """What a frame's file belongs to."""
    file = _file(frame)
    for prefix, name in COMPONENTS:
        if file.startswith(prefix) or f"/{prefix}" in file:
            return name
    return "other"


def classify(frames: list[str]) -> str:
    """The category of one busy sample, from its innermost frames."""
    innermost = frames[-1]
    name = _func(innermost).rsplit(".", 1)[-1]
    if name in DB_CALLS and (_file(innermost).startswith(("sqlalchemy/", "psycopg2/"))):
        return DB_CALLS[name]
    if name in RAW_DB_CALLS and _file(innermost).endswith(RAW_DB_FILE):
        # The driver call (C, no Python frame of its own) of app/database/autocommit.py.
        return RAW_DB_CALLS[name]
    return component(innermost)


WAITS = ("DB", "logging", "thread synchronisation")


@dataclass
class Profile:
    """Summary of one wall-clock recording."""

    samples: int                          # worker samples while handling a request
    worker_idle: int                      # worker threads waiting for a request
    io_loop: int                          # waitress main (I/O) thread
    categories: list[tuple[str, float]]   # (category, % of samples)
    python_samples: int                   # samples in Python work (not DB, log lock, locks)
    python_components: list[tuple[str, float]]
    python_self: list[tuple[str, float]]
    python_inclusive: list[tuple[str, float]]


def summarize(raw: Path, top: int = 12) -> Profile:
    """Categories of request-handling samples, and the Python work among them."""
    cats: Counter[str] = Counter()
    py_cats: Counter[str] = Counter()
    py_self: Counter[str] = Counter()
    py_incl: Counter[str] = Counter()
    counted = idle = io_loop = python = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith(("thread (",
                                                                         "process "))]
        if not frames:
            continue
        if not any("WSGITask.execute" in f or "Task.service" in f for f in frames):
            if any("handler_thread" in f for f in frames):
                idle += count
            else:
                io_loop += count
            continue
        counted += count
        category = classify(frames)
        cats[category] += count
        if category.startswith(WAITS):
            continue
        python += count
        py_cats[category] += count
        py_self[_label(frames[-1])] += count
        for label in {_label(f) for f in frames}:
            if not label.startswith(("Thread.", "ThreadedTaskDispatcher", "<module>")):
                py_incl[label] += count

    def pct(counter: Counter[str], n: int, of: int) -> list[tuple[str, float]]:
        return [(k, 100.0 * v / of) for k, v in counter.most_common(n)] if of else []

    return Profile(counted, idle, io_loop, pct(cats, 20, counted), python,
                   pct(py_cats, 20, python), pct(py_self, top, python),
                   pct(py_incl, top * 2, python))


def markdown(title: str, prof: Profile, requests: int) -> str:
    """A Markdown section for one endpoint's recording."""
    if not prof.samples:
        return f"### {title}\n\nNo request-handling samples.\n"
    per_request = prof.samples / RATE * 1000 / requests if requests else 0.0
    total = prof.samples + prof.worker_idle + prof.io_loop
    out = [f"### {title}", "",
           f"{prof.samples} worker samples while handling a request ≈ {per_request:.1f} ms "
           f"of worker-thread time per request ({requests} requests in the sampled "
           f"window; workers idle waiting for work: "
           f"{100.0 * prof.worker_idle / total:.0f}% of all samples).", "",
           "| where a request's time goes (wall clock) | % | ms/request |", "|---|---:|---:|"]
    out += [f"| {name} | {p:.1f} | {per_request * p / 100:.2f} |"
            for name, p in prof.categories]
    out += ["", f"Python work only ({prof.python_samples} samples, i.e. without DB calls, "
            "log-lock and other lock waits) — approximately where the server's CPU goes:", "",
            "| component | % |", "|---|---:|"]
    out += [f"| {name} | {p:.1f} |" for name, p in prof.python_components]
    out += ["", "| top self (Python work) | % |", "|---|---:|"]
    out += [f"| `{name}` | {p:.1f} |" for name, p in prof.python_self]
    out += ["", "| top inclusive (Python work) | % |", "|---|---:|"]
    out += [f"| `{name}` | {p:.1f} |" for name, p in prof.python_inclusive]
    return "\n".join(out) + "\n"
