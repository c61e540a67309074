"""The benchmark database: create, migrate, seed once, pick ids, mint tokens."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from bench.paths import ROOT

LARGE_PATIENTS = 100_000
LARGE_REGISTRATIONS = 1_000_000
TOKEN_LIFETIME = dt.timedelta(hours=6)


def libpq_url(url: str) -> str:
    """A URL libpq understands (drops a SQLAlchemy driver suffix)."""
    for prefix in ("postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def connect(url: str, **kwargs):
    """A psycopg2 connection (autocommit) to `url`; kwargs override DSN parts."""
    conn = psycopg2.connect(libpq_url(url), **kwargs)
    conn.autocommit = True
    return conn


def ensure_database(url: str) -> bool:
    """Create the database named in `url` if it is missing; True when it was created."""
    name = psycopg2.extensions.parse_dsn(libpq_url(url))["dbname"]
    conn = connect(url, dbname="postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return False
            cur.execute(f'CREATE DATABASE "{name}"')
            return True
    finally:
        conn.close()


def scalar(url: str, sql: str, params: tuple | dict = ()):
    """The first column of the first row of `sql`."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params or None)
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def rows(url: str, sql: str, params: tuple | dict = ()) -> list[tuple]:
    """Every row of `sql`."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params or None)
            return cur.fetchall()
    finally:
        conn.close()


def counts(url: str) -> dict[str, int] | None:
    """Row counts of the main tables, or None when the schema is not there."""
    try:
        found = rows(url, """
            SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM patients),
                   (SELECT count(*) FROM doctors), (SELECT count(*) FROM departments),
                   (SELECT count(*) FROM schedules), (SELECT count(*) FROM registrations)
        """)[0]
    except psycopg2.errors.UndefinedTable:
        return None
    keys = ("users", "patients", "doctors", "departments", "schedules", "registrations")
    return dict(zip(keys, found, strict=True))


def holds_large_data(found: dict[str, int] | None) -> bool:
    """Whether the counts are those of `seed.py --scale large`."""
    return bool(found) and found["patients"] >= LARGE_PATIENTS and (
        found["registrations"] >= LARGE_REGISTRATIONS)


def migrate(app) -> None:
    """Apply the migrations (flask db upgrade)."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def seed(url: str, scale: str, seed_value: int, env: dict[str, str], log: Path) -> float:
    """Run seed.py (with --reset) into `url`; returns the seconds it took."""
    script = ROOT / "seed.py"
    if not script.exists():
        raise SystemExit("seed.py is missing: the benchmark needs `seed.py --scale large`.")
    cmd = [sys.executable, str(script), "--scale", scale, "--seed", str(seed_value), "--reset"]
    print(f"Seeding: {' '.join(cmd[1:])} (output in {log}) ...", flush=True)
    started = time.monotonic()
    with open(log, "wb") as out:
        done = subprocess.run(cmd, cwd=ROOT, env={**env, "HOSPITAL_NO_VENV": "1"},
                              stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SystemExit(f"seed.py failed ({done.returncode}); see {log}:\n"
                         + log.read_text(errors="replace")[-3000:])
    return time.monotonic() - started


def vacuum(url: str) -> None:
    """VACUUM (ANALYZE) the whole database: no dead rows, fresh planner statistics."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:  # autocommit: VACUUM cannot run inside a transaction
            cur.execute("VACUUM (ANALYZE)")
    finally:
        conn.close()


@dataclass
class Picks:
    """Ids and query strings chosen from the seeded data."""

    doctor_lo: int
    doctor_hi: int
    admin_id: int
    user_ids: list[int]           # regular users with patients (for user-scoped searches)
    queries: dict[str, str]       # label -> realistic search query


def _common_surname(url: str) -> str:
    spaced = scalar(url, "SELECT count(*) FILTER (WHERE name LIKE '% %') * 2 > count(*) "
                         "FROM (SELECT name FROM patients LIMIT 2000) s")
    part = "split_part(name, ' ', 2)" if spaced else "left(name, 1)"
    return scalar(url, f"SELECT {part} AS s FROM (SELECT name FROM patients LIMIT 20000) p "
                       f"WHERE {part} <> '' GROUP BY s ORDER BY count(*) DESC LIMIT 1")


def pick(url: str) -> Picks:
    """Choose doctor ids, an admin, users and realistic queries from the data."""
    lo, hi = rows(url, "SELECT min(id), max(id) FROM doctors")[0]
    if lo is None:
        raise SystemExit("The benchmark database has no doctors; seed it first.")
    admin_id = scalar(url, "SELECT id FROM users WHERE is_admin ORDER BY id LIMIT 1")
    user_ids = [r[0] for r in rows(url, """
        SELECT u.id FROM users u WHERE NOT u.is_admin
           AND EXISTS (SELECT 1 FROM patients p WHERE p.user_id = u.id)
         ORDER BY random() LIMIT 2000""")]
    department = scalar(url, """
        SELECT d.name FROM departments d JOIN schedules s ON s.department_id = d.id
         GROUP BY d.id ORDER BY count(*) DESC LIMIT 1""")
    doctor = scalar(url, "SELECT name FROM doctors ORDER BY id LIMIT 1")
    patient = scalar(url, "SELECT name FROM patients ORDER BY id DESC LIMIT 1")
    queries = {
        "common surname": _common_surname(url),
        "department name": department,
        "doctor name": doctor,
        "status": "completed",
        "a patient's full name": patient,
        "no match": "zzqxwv",
    }
    return Picks(lo, hi, admin_id, user_ids,
                 {k: v for k, v in queries.items() if v})


def mint_tokens(app, user_ids: list[int]) -> dict[int, str]:
    """Access tokens for these users, signed with the service's JWT_SECRET_KEY."""
    from flask_jwt_extended import create_access_token
    from sqlalchemy import select

    from app.extensions import db
    from app.models import User

    tokens: dict[int, str] = {}
    with app.app_context():
        for start in range(0, len(user_ids), 5000):
            chunk = user_ids[start:start + 5000]
            for user in db.session.scalars(select(User).where(User.id.in_(chunk))):
                tokens[user.id] = create_access_token(identity=user,
                                                      expires_delta=TOKEN_LIFETIME)
        db.session.remove()
    return tokens


def write_request_lines(path: Path, lines: list[tuple[str, str, str, str]]) -> None:
    """A request file for bench.lua's `lines` mode."""
    with open(path, "w", encoding="utf-8") as out:
        for method, target, token, body in lines:
            out.write(f"{method}\t{target}\t{token}\t{body}\n")
