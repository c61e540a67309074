"""One booking window for booking and joining a waitlist; a cached read's counters as a function.

book_registration() (0006, 0007) and join_waitlist() (0012) each restated the same four
refusals: schedule_started, schedule_suspended, and for patients not_yet_released and
booking_closed. They now ask one function, booking_window_refusal(): the refusal in the
API's order, or NULL while the window is open. Admins are bound by neither release nor
cutoff. Booking closes at a start less the cutoff: the chosen slot's, else a slotted
schedule's latest slot's, else the schedule's; so a booking without a chosen slot is closed
once no slot is open, and a join at the same moment. The slots are read only when that is
the question left (a patient's request after the release). It is PL/pgSQL, so the slot
query keeps its plan: an SQL function holding a sub-select is never inlined and is planned
on every call.

The answers and their order are unchanged.

The earliest slot with a free place was chosen in three places: a booking, a substitution
(suspend_schedule(), 0008) and a reinstatement (app/services/registration_status.py).
earliest_free_slot(schedule, date, closing, now) is now the one definition; with `now`,
only a slot still open to patients then counts.

It also moves the statement a cached schedule read runs on a hit (app/web/caching.py) into
live_counters(), a PL/pgSQL function: the function keeps its plan, where the statement was
planned afresh on every call (about 0.35 ms, more than it took to run).

Revision ID: 0013
Revises: 0012
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

WINDOW_FUNCTION = """
CREATE FUNCTION booking_window_refusal(p_schedule_id integer, p_date date, p_start time,
                                       p_slot_start time, p_status text,
                                       p_release_at timestamp, p_cutoff interval,
                                       p_is_admin boolean, p_now timestamp)
RETURNS text LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    IF p_date + p_start <= p_now THEN
        RETURN 'schedule_started';
    ELSIF p_status <> 'open' THEN
        RETURN 'schedule_suspended';
    ELSIF p_is_admin THEN
        RETURN NULL;
    ELSIF p_release_at > p_now THEN
        RETURN 'not_yet_released';
    END IF;
    IF p_slot_start IS NULL THEN
        SELECT max(sl.start_time) INTO p_slot_start
          FROM schedule_slots AS sl WHERE sl.schedule_id = p_schedule_id;
    END IF;
    IF p_date + COALESCE(p_slot_start, p_start) - p_cutoff <= p_now THEN
        RETURN 'booking_closed';
    END IF;
    RETURN NULL;
END $$;
"""

# What a schedule's available_slots and `bookable` and a slot's `available` are judged
# from, for the rows a cached answer shows, as one row of arrays. closes_at is
# schedule_closes_at() (0006) restated over the whole set: that function is not inlined and
# costs ~0.1 ms a row as a call; tests/api/test_caching.py holds the two equal.
LIVE_COUNTERS = """
CREATE FUNCTION live_counters(p_schedules integer[], p_slots integer[])
RETURNS TABLE (schedule_ids integer[], free integer[], statuses text[], dates date[],
               starts time[], closes_at timestamp[], slot_ids integer[], slot_free integer[])
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT s.*, t.*
      FROM (SELECT array_agg(s.id), array_agg(s.max_appointments - s.booked_count),
                   array_agg(s.status::text), array_agg(s.date), array_agg(s.start_time),
                   array_agg(s.date + CASE WHEN s.slot_minutes IS NULL THEN s.start_time
                                           ELSE f.latest END - c.cutoff)
              FROM schedules AS s
             CROSS JOIN booking_cutoff() AS c (cutoff)
              LEFT JOIN LATERAL (
                    SELECT max(sl.start_time) AS latest FROM schedule_slots AS sl
                     WHERE sl.schedule_id = s.id
                       AND schedule_within_capacity(sl.booked_count + 1, sl.capacity)
                   ) AS f ON s.slot_minutes IS NOT NULL
             WHERE s.id = ANY (p_schedules)) AS s,
           (SELECT array_agg(sl.id), array_agg(sl.capacity - sl.booked_count)
              FROM schedule_slots AS sl WHERE sl.id = ANY (p_slots)) AS t;
END $$;
"""

EARLIEST_FREE_SLOT = """
CREATE FUNCTION earliest_free_slot(p_schedule_id integer, p_date date, p_closing interval,
                                   p_now timestamp)
RETURNS TABLE (slot_id integer, slot_start time, slot_end time)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sl.id, sl.start_time, sl.end_time
      FROM schedule_slots AS sl
     WHERE sl.schedule_id = p_schedule_id
       AND schedule_within_capacity(sl.booked_count + 1, sl.capacity)
       AND (p_now IS NULL OR p_date + sl.start_time - p_closing > p_now)
     ORDER BY sl.ordinal
     LIMIT 1
$$;
"""

DROP_FUNCTIONS = """
DROP FUNCTION earliest_free_slot(integer, date, interval, timestamp);
DROP FUNCTION live_counters(integer[], integer[]);
DROP FUNCTION booking_window_refusal(integer, date, time, time, text, timestamp, interval,
                                     boolean, timestamp);
"""


def window_call(slot_start: str) -> str:
    """The PL/pgSQL asking booking_window_refusal() in a function whose record `s` holds the
    schedule's date, start_time, status, release_at and the policy's cutoff."""
    return f"""
    outcome := booking_window_refusal(p_schedule_id, s.date, s.start_time, {slot_start},
                                      s.status, s.release_at, s.cutoff, p_is_admin, p_now);
    IF outcome = 'not_yet_released' THEN
        release_at := s.release_at;
    END IF;
"""


BOOK_WINDOW = ("""
    IF s.date + s.start_time <= p_now THEN
        outcome := 'schedule_started';
    ELSIF s.status <> 'open' THEN
        outcome := 'schedule_suspended';
    ELSIF NOT p_is_admin THEN
        IF s.release_at > p_now THEN
            outcome := 'not_yet_released';
            release_at := s.release_at;
        ELSIF s.slot_minutes IS NULL OR p_slot_id IS NOT NULL THEN
            IF s.date + COALESCE(v_slot_start, s.start_time) - s.cutoff <= p_now THEN
                outcome := 'booking_closed';
            END IF;
        ELSIF NOT EXISTS (SELECT FROM schedule_slots AS sl
                           WHERE sl.schedule_id = p_schedule_id
                             AND s.date + sl.start_time - s.cutoff > p_now) THEN
            outcome := 'booking_closed';
        END IF;
    END IF;
""", window_call("v_slot_start"))

JOIN_WINDOW = ("""
    IF schedule_start <= p_now THEN
        outcome := 'schedule_started';
    ELSIF s.status <> 'open' THEN
        outcome := 'schedule_suspended';
    ELSIF NOT p_is_admin THEN
        IF s.release_at > p_now THEN
            outcome := 'not_yet_released';
            release_at := s.release_at;
        ELSE
            v_last_start := s.start_time;
            IF s.slot_minutes IS NOT NULL THEN
                SELECT COALESCE(max(sl.start_time), s.start_time) INTO v_last_start
                  FROM schedule_slots AS sl WHERE sl.schedule_id = p_schedule_id;
            END IF;
            IF s.date + v_last_start - s.cutoff <= p_now THEN
                outcome := 'booking_closed';
            END IF;
        END IF;
    END IF;
""", window_call("NULL"))


BOOK_SLOT = ("""
        SELECT sl.id, sl.start_time, sl.end_time INTO reg_slot_id, v_slot_start, v_slot_end
          FROM schedule_slots AS sl
         WHERE sl.schedule_id = p_schedule_id
           AND schedule_within_capacity(sl.booked_count + 1, sl.capacity)
           AND (p_is_admin OR s.date + sl.start_time - s.cutoff > p_now)
         ORDER BY sl.ordinal
         LIMIT 1;
""", """
        SELECT f.slot_id, f.slot_start, f.slot_end INTO reg_slot_id, v_slot_start, v_slot_end
          FROM earliest_free_slot(p_schedule_id, s.date, s.cutoff,
                                  CASE WHEN NOT p_is_admin THEN p_now END) AS f;
""")

SUBSTITUTE_SLOT = ("""
                SELECT sl.id INTO v_slot FROM schedule_slots AS sl
                 WHERE sl.schedule_id = sub.id
                   AND schedule_within_capacity(sl.booked_count + 1, sl.capacity)
                 ORDER BY sl.ordinal
                 LIMIT 1;
""", """
                SELECT f.slot_id INTO v_slot
                  FROM earliest_free_slot(sub.id, NULL, NULL, NULL) AS f;
""")


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _or_replace(text: str, name: str) -> str:
    """An earlier migration's CREATE FUNCTION of `name` (signature unchanged since), as
    CREATE OR REPLACE."""
    return _replace(text, f"CREATE FUNCTION {name}(", f"CREATE OR REPLACE FUNCTION {name}(")


def _earlier(revision: str):
    return op.get_context().script.get_revision(revision).module


def _book_function() -> str:
    """0007's booking function, the one in force (its text opens by dropping 0006's)."""
    text = _earlier("0007").book_function(_earlier("0006").BOOK_FUNCTION)
    return _or_replace(text.split(";", 1)[1], "book_registration")


def _join_function() -> str:
    return _or_replace(_earlier("0012").JOIN_FUNCTION, "join_waitlist")


def _suspend_function() -> str:
    return _or_replace(_earlier("0008").SUSPEND_SCHEDULE, "suspend_schedule")


def upgrade():
    op.execute(WINDOW_FUNCTION)
    op.execute(EARLIEST_FREE_SLOT)
    op.execute(LIVE_COUNTERS)
    op.execute(_replace(_replace(_book_function(), *BOOK_WINDOW), *BOOK_SLOT))
    op.execute(_replace(_suspend_function(), *SUBSTITUTE_SLOT))
    join = _replace(_join_function(), *JOIN_WINDOW)
    # What only the restated window needed: the latest slot's start and the slot length.
    join = _replace(join, "    v_last_start time;\n", "")
    op.execute(_replace(join, "SELECT sc.date, sc.start_time, sc.slot_minutes, sc.status,",
                        "SELECT sc.date, sc.start_time, sc.status,"))


def downgrade():
    op.execute(_book_function())
    op.execute(_suspend_function())
    op.execute(_join_function())
    op.execute(DROP_FUNCTIONS)
