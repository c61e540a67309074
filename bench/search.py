"""Search latency (single client) and the query plans behind POST /registrations/search."""
from __future__ import annotations

import http.client
import json
import logging
import re
import statistics
import time
from dataclasses import dataclass

from bench.dataset import connect


@dataclass
class Latency:
    """Latency of one search query, single client."""

    label: str
    query: str
    n: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    count: int | None
    statuses: dict[int, int]


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def measure(port: int, token: str, label: str, query: str, n: int = 50,
            budget_s: float = 30.0, path: str = "/registrations/search") -> Latency:
    """Time `n` sequential searches (fewer if they exceed `budget_s`) over one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"query": query})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    timings: list[float] = []
    statuses: dict[int, int] = {}
    count = None
    started = time.monotonic()
    try:
        conn.request("POST", path, body, headers)  # warm-up, not timed
        conn.getresponse().read()
        while len(timings) < n and (time.monotonic() - started < budget_s or len(timings) < 3):
            t0 = time.perf_counter()
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            data = response.read()
            timings.append((time.perf_counter() - t0) * 1000)
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if response.status == 200 and count is None:
                count = json.loads(data).get("count")
    finally:
        conn.close()
    return Latency(label, query, len(timings), statistics.median(timings),
                   _percentile(timings, 95), max(timings), count, statuses)


def capture_search_sql(app, admin_token: str, query: str,
                       path: str = "/registrations/search") -> list[tuple[str, object]]:
    """The SQL statements (with parameters) the service runs for one search request."""
    from sqlalchemy import event

    from app.extensions import db

    captured: list[tuple[str, object]] = []

    def before(_conn, _cursor, statement, parameters, _context, _executemany):
        captured.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    logging.disable(logging.CRITICAL)  # a timed-out search logs a long traceback
    try:
        client = app.test_client()
        response = client.post(path, json={"query": query},
                               headers={"Authorization": f"Bearer {admin_token}"})
        if response.status_code != 200:
            print(f"   (in-process search {query!r} answered {response.status_code}: "
                  f"{response.get_json(silent=True)})", flush=True)
    finally:
        logging.disable(logging.NOTSET)
        event.remove(engine, "before_cursor_execute", before)
    return [(s, p) for s, p in captured if re.search(r"\bregistrations\b", s)
            and s.lstrip().upper().startswith(("SELECT", "WITH"))]


def trigram_indexes(url: str) -> list[tuple[str, str, str]]:
    """(table, index, definition) of every pg_trgm index."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("""SELECT tablename, indexname, indexdef FROM pg_indexes
                            WHERE schemaname = 'public' AND indexdef ~* 'trgm'
                            ORDER BY tablename, indexname""")
            return cur.fetchall()
    finally:
        conn.close()


def explain(url: str, statement: str, parameters) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of one captured statement, without a statement timeout."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SET statement_timeout = 0")
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            return "\n".join(row[0] for row in cur.fetchall())
    finally:
        conn.close()


def timed_run(url: str, statement: str, parameters) -> float:
    """Milliseconds one plain execution of the statement takes (no timeout, no EXPLAIN), on
    a connection that has run it once already (as the server's pooled connections have)."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SET statement_timeout = 0")
            cur.execute(statement, parameters)
            cur.fetchall()
            started = time.perf_counter()
            cur.execute(statement, parameters)
            cur.fetchall()
            return (time.perf_counter() - started) * 1000
    finally:
        conn.close()


def used_indexes(plan: str) -> list[str]:
    """Index names a plan scans."""
    found = re.findall(r"Index (?:Only )?Scan (?:Backward )?(?:using (\w+)|on (\w+))", plan)
    return sorted({using or on for using, on in found})


def execution_ms(plan: str) -> float | None:
    """The plan's 'Execution Time' in ms."""
    match = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return float(match.group(1)) if match else None
