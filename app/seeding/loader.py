"""Bulk loading with COPY on one raw psycopg2 connection (one transaction for everything)."""
from __future__ import annotations

import datetime as dt
import io
import queue
import threading
from collections.abc import Iterable, Sequence

from psycopg2.extensions import cursor as Cursor

from app.models import Base

CHUNK_ROWS = 50_000
# The tables whose rows mean "this database already has data to seed around".
DATA_TABLES = ("departments", "doctors", "schedules", "patients", "registrations")
# The per-row triggers a bulk load does in one statement afterwards: (table, trigger).
BULK_TRIGGERS = (("registrations", "registrations_book"), ("registrations", "registrations_events"),
                 ("schedules", "schedules_slots"))
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def text(value: str | None) -> str:
    """A text value in COPY's text format (\\N for NULL)."""
    return "\\N" if value is None else value.translate(_ESCAPES)


def ts(moment: dt.datetime) -> str:
    """A timestamptz literal."""
    return moment.isoformat(sep=" ")


def copy_lines(cur: Cursor, table: str, columns: Sequence[str], lines: Iterable[str],
               progress=None, chunk_rows: int = CHUNK_ROWS) -> int:
    """COPY tab-separated `lines` (each ending in a newline) into table, in chunks.

    A helper thread turns lines into chunks while this one sends the previous chunk, so
    generating the rows in Python overlaps with PostgreSQL storing them.
    """
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    chunks: queue.Queue = queue.Queue(maxsize=3)
    done, stop = object(), threading.Event()

    def produce() -> None:
        try:
            batch: list[str] = []
            for line in lines:
                batch.append(line)
                if len(batch) >= chunk_rows:
                    if stop.is_set():
                        return
                    chunks.put((len(batch), "".join(batch)))
                    batch = []
            if batch:
                chunks.put((len(batch), "".join(batch)))
            chunks.put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            chunks.put(exc)

    producer = threading.Thread(target=produce, name=f"seed-{table}", daemon=True)
    producer.start()
    total = 0
    try:
        while (item := chunks.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            rows, data = item
            cur.copy_expert(sql, io.StringIO(data), size=1 << 20)
            total += rows
            if progress is not None:
                progress.advance(rows)
    finally:
        # After a failed COPY, unblock the producer and let it stop.
        stop.set()
        while producer.is_alive():
            try:
                chunks.get(timeout=0.1)
            except queue.Empty:
                pass
        producer.join()
    return total


def drop_plain_indexes(cur: Cursor, table: str) -> list[str]:
    """Drop the plain (non-unique, non-partial) indexes of `table`; returns their definitions.

    Rebuilding an index once after a bulk load is several times faster than updating it for
    every row (especially for indexes in random order, like patient_id). Unique indexes stay,
    so they keep checking the rows as they arrive; partial ones would not come back with a
    byte-identical definition.
    """
    cur.execute("""
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
          FROM pg_index AS i
         WHERE i.indrelid = %s::regclass AND NOT i.indisunique AND i.indpred IS NULL
           AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
         ORDER BY 1
    """, (table,))
    indexes = cur.fetchall()
    for name, _ in indexes:
        cur.execute(f"DROP INDEX {name}")
    return [definition for _, definition in indexes]


def create_indexes(cur: Cursor, definitions: Sequence[str]) -> None:
    """Re-create the indexes drop_plain_indexes dropped."""
    cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for definition in definitions:
        cur.execute(definition)


def table_counts(cur: Cursor, tables: Sequence[str] = DATA_TABLES) -> dict[str, int]:
    """Rows per table (exact counts; cheap at seeding sizes)."""
    counts = {}
    for table in tables:
        cur.execute(f"SELECT count(*) FROM {table}")
        counts[table] = cur.fetchone()[0]
    return counts


def reset_keeping_admins(cur: Cursor) -> int:
    """Empty every table but keep the admin accounts (ids, passwords and tokens unchanged)."""
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    cur.execute("CREATE TEMP TABLE seed_kept_admins ON COMMIT DROP AS "
                "SELECT * FROM users WHERE is_admin")
    cur.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    # The doctors they were linked to are gone.
    cur.execute("UPDATE seed_kept_admins SET doctor_id = NULL")
    cur.execute("INSERT INTO users SELECT * FROM seed_kept_admins")
    kept = cur.rowcount
    cur.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), "
                "GREATEST((SELECT max(id) FROM users), 1), (SELECT count(*) > 0 FROM users))")
    return kept


def _sequence(cur: Cursor, table: str) -> str:
    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
    return cur.fetchone()[0]


def next_free_id(cur: Cursor, table: str) -> int:
    """Lock `table` against other writers (until commit) and return the first unused id."""
    cur.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
    cur.execute(f"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END "
                f"FROM {_sequence(cur, table)}")
    used = cur.fetchone()[0]
    cur.execute(f"SELECT COALESCE(max(id), 0) FROM {table}")
    return max(used, cur.fetchone()[0]) + 1


def sync_sequence(cur: Cursor, table: str) -> None:
    """After a COPY with explicit ids: the sequence continues after the largest id."""
    sequence = _sequence(cur, table)
    cur.execute(f"SELECT setval(%s, max(id)) FROM {table} HAVING max(id) > "
                f"(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence})",
                (sequence,))


def is_superuser(cur: Cursor) -> bool:
    """Whether the session may use session_replication_role."""
    cur.execute("SELECT current_setting('is_superuser') = 'on'")
    return bool(cur.fetchone()[0])


def begin_bulk_load(cur: Cursor) -> str:
    """Switch off per-row triggers for this transaction; returns the mode used.

    As a superuser, session_replication_role=replica skips every trigger, including the
    foreign-key checks (the generated ids are consistent by construction). Otherwise only the
    booking trigger and the slot layout trigger are disabled: the counters are recomputed and
    the slots laid out in one statement each afterwards.
    """
    if is_superuser(cur):
        cur.execute("SET LOCAL session_replication_role = replica")
        return "replica"
    for table, trigger in BULK_TRIGGERS:
        cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    return "trigger"


def end_bulk_load(cur: Cursor, mode: str) -> None:
    """Undo begin_bulk_load (before the commit)."""
    if mode == "replica":
        cur.execute("SET LOCAL session_replication_role = origin")
    else:
        for table, trigger in BULK_TRIGGERS:
            cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


def refresh_schedule_counters(cur: Cursor, first_schedule_id: int) -> int:
    """Set booked_count / last_queue_number of the new schedules from their registrations."""
    cur.execute("""
        UPDATE schedules AS s
           SET booked_count = r.active, last_queue_number = r.last_queue
          FROM (SELECT schedule_id,
                       count(*) FILTER (WHERE registration_holds_slot(status)) AS active,
                       max(queue_number) AS last_queue
                  FROM registrations
                 WHERE schedule_id >= %(first)s
                 GROUP BY schedule_id) AS r
         WHERE s.id = r.schedule_id
    """, {"first": first_schedule_id})
    return cur.rowcount


def refresh_slot_counters(cur: Cursor, first_schedule_id: int) -> int:
    """Set booked_count of the new schedules' slots from their registrations."""
    cur.execute("""
        UPDATE schedule_slots AS sl
           SET booked_count = r.active
          FROM (SELECT slot_id,
                       count(*) FILTER (WHERE registration_holds_slot(status)) AS active
                  FROM registrations
                 WHERE schedule_id >= %(first)s AND slot_id IS NOT NULL
                 GROUP BY slot_id) AS r
         WHERE sl.id = r.slot_id AND sl.booked_count <> r.active
    """, {"first": first_schedule_id})
    return cur.rowcount
