"""Booking policy (放号, cutoffs, cancel deadline) and time-slot numbers (分时段).

* booking_policy: the one hospital-wide row. Departments may override horizon_days and
  release_time. schedule_release_at(date, department_id) is the only definition of when a
  schedule is released (放号); booking_cutoff() of how long before a start booking closes.
* schedules gain slot_minutes and status (open | suspended).
* schedule_slots: a slotted schedule's slots as rows, each with its capacity and a booked
  counter kept by the registration triggers in the booking's own transaction; the CHECK
  ck_schedule_slots_capacity holds capacity per slot as ck_schedules_capacity holds it per
  schedule. The slots are laid out by the database (schedule_slot_layout, the trigger
  schedules_slots) for every writer: created with the schedule, rebuilt when its times or
  slot length change (refused while it holds active registrations), capacities
  redistributed when max_appointments changes (refused by the CHECK when a slot would hold
  less than it has booked).
* registrations gain slot_id; registration_visit_start/_end give the suggested visit times.
* book_registration() takes an optional slot and applies the policy, in the refusal order of
  the API reference; admins are not bound by release and cutoff.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

POLICY_FUNCTIONS = """
-- The release instant (放号): release_time on D - horizon_days, the department's terms
-- before the hospital's; NULL (no horizon) means always released. Pure, so the planner
-- inlines it wherever it is called.
CREATE FUNCTION release_instant(p_date date, p_department_horizon integer,
                                p_department_time time, p_horizon integer, p_time time)
RETURNS timestamp LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (p_date - COALESCE(p_department_horizon, p_horizon))
       + COALESCE(p_department_time, p_time);

CREATE FUNCTION schedule_release_at(p_date date, p_department_id integer) RETURNS timestamp
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (SELECT release_instant(p_date, d.horizon_days, d.release_time,
                               p.horizon_days, p.release_time)
          FROM booking_policy AS p
          LEFT JOIN departments AS d ON d.id = p_department_id
         WHERE p.id = 1);

CREATE FUNCTION booking_cutoff() RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE
RETURN COALESCE((SELECT make_interval(mins => p.booking_cutoff_minutes)
                   FROM booking_policy AS p WHERE p.id = 1), interval '0');

CREATE TRIGGER booking_policy_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON booking_policy
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('catalogue');
"""

LAYOUT = """
-- Slots run back to back from p_start; the last ends at p_end and may be shorter. With n
-- slots and capacity c, slot i (0-based) holds c / n, plus one while i < c mod n.
CREATE FUNCTION schedule_slot_layout(p_start time, p_end time, p_minutes integer,
                                     p_capacity integer)
RETURNS TABLE (ordinal integer, start_time time, end_time time, capacity integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH n AS (
        SELECT ceil(extract(epoch FROM p_end - p_start) / (p_minutes * 60))::integer AS n
    )
    SELECT i,
           p_start + make_interval(mins => i * p_minutes),
           p_start + LEAST(make_interval(mins => (i + 1) * p_minutes), p_end - p_start),
           p_capacity / n.n + CASE WHEN i < p_capacity % n.n THEN 1 ELSE 0 END
      FROM n, generate_series(0, n.n - 1) AS i
     ORDER BY i
$$;

CREATE FUNCTION schedules_slot_layout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (NEW.start_time, NEW.end_time, NEW.slot_minutes)
           IS NOT DISTINCT FROM (OLD.start_time, OLD.end_time, OLD.slot_minutes) THEN
            IF NEW.slot_minutes IS NOT NULL
               AND NEW.max_appointments <> OLD.max_appointments THEN
                -- The CHECK ck_schedule_slots_capacity refuses a slot below its bookings.
                UPDATE schedule_slots AS sl SET capacity = l.capacity
                  FROM schedule_slot_layout(NEW.start_time, NEW.end_time, NEW.slot_minutes,
                                            NEW.max_appointments) AS l
                 WHERE sl.schedule_id = NEW.id AND sl.ordinal = l.ordinal;
            END IF;
            RETURN NULL;
        END IF;
        IF (OLD.slot_minutes IS NOT NULL OR NEW.slot_minutes IS NOT NULL)
           AND NEW.booked_count > 0 THEN
            RAISE EXCEPTION 'schedule % holds active registrations; its slots cannot change',
                  NEW.id
                  USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_schedules_slots_unbooked';
        END IF;
        DELETE FROM schedule_slots WHERE schedule_id = NEW.id;
    END IF;
    IF NEW.slot_minutes IS NOT NULL THEN
        INSERT INTO schedule_slots (schedule_id, ordinal, start_time, end_time, capacity)
        SELECT NEW.id, l.ordinal, l.start_time, l.end_time, l.capacity
          FROM schedule_slot_layout(NEW.start_time, NEW.end_time, NEW.slot_minutes,
                                    NEW.max_appointments) AS l
         ORDER BY l.ordinal;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER schedules_slots
    AFTER INSERT OR UPDATE OF start_time, end_time, slot_minutes, max_appointments
    ON schedules
    FOR EACH ROW EXECUTE FUNCTION schedules_slot_layout();

-- The bulk seeder skips triggers: it lays out the slots of its new schedules in one go.
CREATE FUNCTION lay_out_schedule_slots(p_first_schedule_id integer) RETURNS bigint
LANGUAGE sql AS $$
    WITH made AS (
        INSERT INTO schedule_slots (schedule_id, ordinal, start_time, end_time, capacity)
        SELECT s.id, l.ordinal, l.start_time, l.end_time, l.capacity
          FROM schedules AS s,
               schedule_slot_layout(s.start_time, s.end_time, s.slot_minutes,
                                    s.max_appointments) AS l
         WHERE s.id >= p_first_schedule_id AND s.slot_minutes IS NOT NULL
         ORDER BY s.id, l.ordinal
        RETURNING 1)
    SELECT count(*) FROM made
$$;

CREATE TRIGGER schedule_slots_cache AFTER INSERT OR DELETE OR TRUNCATE ON schedule_slots
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('catalogue');
CREATE TRIGGER schedule_slots_cache_edit
    AFTER UPDATE OF schedule_id, ordinal, start_time, end_time, capacity ON schedule_slots
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('catalogue');

DROP TRIGGER schedules_cache_edit ON schedules;
CREATE TRIGGER schedules_cache_edit
    AFTER UPDATE OF doctor_id, department_id, date, start_time, end_time, max_appointments,
                    slot_minutes, status
    ON schedules
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('catalogue');
"""

VISIT = """
-- The suggested visit time (建议就诊时间): the slot's time, else the schedule's.
CREATE FUNCTION visit_at(p_date date, p_slot_time time, p_schedule_time time)
RETURNS timestamp LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_date + COALESCE(p_slot_time, p_schedule_time);

CREATE FUNCTION registration_visit_start(p_schedule_id integer, p_slot_id integer)
RETURNS timestamp LANGUAGE sql STABLE PARALLEL SAFE
RETURN (SELECT visit_at(s.date, sl.start_time, s.start_time)
          FROM schedules AS s LEFT JOIN schedule_slots AS sl ON sl.id = p_slot_id
         WHERE s.id = p_schedule_id);

CREATE FUNCTION registration_visit_end(p_schedule_id integer, p_slot_id integer)
RETURNS timestamp LANGUAGE sql STABLE PARALLEL SAFE
RETURN (SELECT visit_at(s.date, sl.end_time, s.end_time)
          FROM schedules AS s LEFT JOIN schedule_slots AS sl ON sl.id = p_slot_id
         WHERE s.id = p_schedule_id);

-- When booking closes for patients: for an unslotted schedule its start less the cutoff;
-- for a slotted one, the latest start of a slot with a free place less the cutoff (null
-- when no slot has one).
CREATE FUNCTION schedule_closes_at(p_schedule_id integer, p_date date, p_start time,
                                   p_slot_minutes integer)
RETURNS timestamp LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE WHEN p_slot_minutes IS NULL THEN p_date + p_start - booking_cutoff()
            ELSE (SELECT p_date + max(sl.start_time) - booking_cutoff()
                    FROM schedule_slots AS sl
                   WHERE sl.schedule_id = p_schedule_id
                     AND schedule_within_capacity(sl.booked_count + 1, sl.capacity))
       END;
"""

COUNTER_TRIGGERS = """
CREATE OR REPLACE FUNCTION registrations_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    holds boolean := registration_holds_slot(NEW.status);
BEGIN
    UPDATE schedules
       SET booked_count = booked_count + CASE WHEN holds THEN 1 ELSE 0 END,
           last_queue_number = GREATEST(last_queue_number + 1, COALESCE(NEW.queue_number, 0))
     WHERE id = NEW.schedule_id
    RETURNING last_queue_number INTO NEW.queue_number;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('schedule %s does not exist', NEW.schedule_id),
            CONSTRAINT = 'fk_registrations_schedule_id_schedules';
    END IF;
    IF NEW.slot_id IS NOT NULL THEN
        UPDATE schedule_slots
           SET booked_count = booked_count + CASE WHEN holds THEN 1 ELSE 0 END
         WHERE id = NEW.slot_id AND schedule_id = NEW.schedule_id;
        IF NOT FOUND THEN
            RAISE foreign_key_violation USING
                MESSAGE = format('schedule %s has no slot %s', NEW.schedule_id, NEW.slot_id),
                CONSTRAINT = 'fk_registrations_slot_id_schedule_slots';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION registrations_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_active boolean := registration_holds_slot(OLD.status);
    is_active boolean := registration_holds_slot(NEW.status);
    moved boolean := OLD.schedule_id <> NEW.schedule_id;
BEGIN
    -- The schedule first (every writer locks schedules before anything else), then the slot.
    IF NOT moved THEN
        IF was_active <> is_active THEN
            UPDATE schedules
               SET booked_count = booked_count + CASE WHEN is_active THEN 1 ELSE -1 END
             WHERE id = NEW.schedule_id;
        END IF;
    ELSE
        IF was_active THEN
            UPDATE schedules SET booked_count = booked_count - 1 WHERE id = OLD.schedule_id;
        END IF;
        IF is_active THEN
            UPDATE schedules SET booked_count = booked_count + 1 WHERE id = NEW.schedule_id;
        END IF;
    END IF;
    IF was_active AND OLD.slot_id IS NOT NULL
       AND (NOT is_active OR moved OR OLD.slot_id IS DISTINCT FROM NEW.slot_id) THEN
        UPDATE schedule_slots SET booked_count = booked_count - 1 WHERE id = OLD.slot_id;
    END IF;
    IF NEW.slot_id IS NOT NULL AND (moved OR OLD.slot_id IS DISTINCT FROM NEW.slot_id
                                    OR (is_active AND NOT was_active)) THEN
        UPDATE schedule_slots
           SET booked_count = booked_count + CASE WHEN is_active THEN 1 ELSE 0 END
         WHERE id = NEW.slot_id AND schedule_id = NEW.schedule_id;
        IF NOT FOUND THEN
            RAISE foreign_key_violation USING
                MESSAGE = format('schedule %s has no slot %s', NEW.schedule_id, NEW.slot_id),
                CONSTRAINT = 'fk_registrations_slot_id_schedule_slots';
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION registrations_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF registration_holds_slot(OLD.status) THEN
        -- Find no row when the schedule itself is being deleted (cascade): nothing to do.
        UPDATE schedules SET booked_count = booked_count - 1 WHERE id = OLD.schedule_id;
        IF OLD.slot_id IS NOT NULL THEN
            UPDATE schedule_slots SET booked_count = booked_count - 1 WHERE id = OLD.slot_id;
        END IF;
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER registrations_restatus ON registrations;
CREATE TRIGGER registrations_restatus AFTER UPDATE OF status, schedule_id, slot_id
    ON registrations
    FOR EACH ROW EXECUTE FUNCTION registrations_after_update();
"""

# Back to migration 0004's counters (its functions are CREATE OR REPLACE), whose update
# trigger did not watch slot_id.
OLD_RESTATUS_TRIGGER = """
DROP TRIGGER registrations_restatus ON registrations;
CREATE TRIGGER registrations_restatus AFTER UPDATE OF status, schedule_id ON registrations
    FOR EACH ROW EXECUTE FUNCTION registrations_after_update();
"""

BOOK_FUNCTION = """
DROP FUNCTION book_registration(integer, integer, text, integer, boolean,
                                timestamp without time zone);

-- Refusals in the API's order: the patient (404), the schedule (404), the slot (400),
-- started, suspended, not yet released, past the cutoff, then capacity (a patient who
-- already holds a place on the schedule hears that first; a full schedule before a full
-- slot). Admins are bound by neither release nor cutoff. The checks run under the schedule
-- row's lock, which every writer of registrations takes first; the CHECK constraints on
-- the counters (kept by the registration triggers) hold capacity whatever happens. The
-- policy and the department's release terms come with the locked row, in one statement.
CREATE FUNCTION book_registration(
    p_patient_id integer, p_schedule_id integer, p_slot_id integer, p_notes text,
    p_user_id integer, p_is_admin boolean, p_now timestamp without time zone)
RETURNS TABLE (outcome text, duplicate_id integer, registration_id integer,
               reg_status varchar, reg_notes text, reg_queue_number integer,
               reg_slot_id integer, reg_visit_start timestamp, reg_visit_end timestamp,
               reg_created_at timestamptz, reg_updated_at timestamptz,
               release_at timestamp)
LANGUAGE plpgsql AS $$
DECLARE
    v_owner integer;
    s record;
    v_slot_start time;
    v_slot_end time;
    v_slot_booked integer;
    v_slot_capacity integer;
BEGIN
    SELECT p.user_id INTO v_owner FROM patients AS p WHERE p.id = p_patient_id;
    IF NOT FOUND OR (NOT p_is_admin AND v_owner IS DISTINCT FROM p_user_id) THEN
        outcome := 'patient_not_found';
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT sc.date, sc.start_time, sc.end_time, sc.booked_count, sc.max_appointments,
           sc.slot_minutes, sc.status,
           release_instant(sc.date, d.horizon_days, d.release_time, pol.horizon_days,
                           pol.release_time) AS release_at,
           make_interval(mins => COALESCE(pol.booking_cutoff_minutes, 0)) AS cutoff
      INTO s
      FROM schedules AS sc
      JOIN departments AS d ON d.id = sc.department_id
      LEFT JOIN booking_policy AS pol ON pol.id = 1
     WHERE sc.id = p_schedule_id
       FOR UPDATE OF sc;
    IF NOT FOUND THEN
        outcome := 'schedule_not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    IF p_slot_id IS NOT NULL THEN
        SELECT sl.start_time, sl.end_time, sl.booked_count, sl.capacity
          INTO v_slot_start, v_slot_end, v_slot_booked, v_slot_capacity
          FROM schedule_slots AS sl
         WHERE sl.id = p_slot_id AND sl.schedule_id = p_schedule_id;
        IF NOT FOUND THEN
            outcome := 'invalid_slot';
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

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
    IF outcome IS NOT NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;

    IF p_slot_id IS NOT NULL THEN
        reg_slot_id := p_slot_id;
    ELSIF s.slot_minutes IS NOT NULL THEN
        -- The earliest slot with a free place (for patients, not past the cutoff).
        SELECT sl.id, sl.start_time, sl.end_time INTO reg_slot_id, v_slot_start, v_slot_end
          FROM schedule_slots AS sl
         WHERE sl.schedule_id = p_schedule_id
           AND schedule_within_capacity(sl.booked_count + 1, sl.capacity)
           AND (p_is_admin OR s.date + sl.start_time - s.cutoff > p_now)
         ORDER BY sl.ordinal
         LIMIT 1;
    END IF;

    SELECT r.id INTO duplicate_id FROM registrations AS r
     WHERE r.patient_id = p_patient_id AND r.schedule_id = p_schedule_id
       AND registration_holds_slot(r.status)
     LIMIT 1;
    IF duplicate_id IS NOT NULL THEN
        outcome := 'duplicate_registration';
    ELSIF NOT schedule_within_capacity(s.booked_count + 1, s.max_appointments) THEN
        outcome := 'schedule_full';
    ELSIF p_slot_id IS NOT NULL
          AND NOT schedule_within_capacity(v_slot_booked + 1, v_slot_capacity) THEN
        outcome := 'slot_full';
    ELSIF s.slot_minutes IS NOT NULL AND reg_slot_id IS NULL THEN
        -- Places are left only in slots past the cutoff.
        outcome := 'booking_closed';
    END IF;
    IF outcome IS NOT NULL THEN
        reg_slot_id := NULL;
        RETURN NEXT;
        RETURN;
    END IF;

    INSERT INTO registrations AS r (patient_id, schedule_id, slot_id, status, notes)
    VALUES (p_patient_id, p_schedule_id, reg_slot_id, 'scheduled', p_notes)
    RETURNING r.id, r.status, r.notes, r.queue_number, r.created_at, r.updated_at
         INTO registration_id, reg_status, reg_notes, reg_queue_number,
              reg_created_at, reg_updated_at;
    reg_visit_start := visit_at(s.date, v_slot_start, s.start_time);
    reg_visit_end := visit_at(s.date, v_slot_end, s.end_time);
    outcome := 'booked';
    RETURN NEXT;
END;
$$;
"""

DROP_BOOK_FUNCTION = """
DROP FUNCTION book_registration(integer, integer, integer, text, integer, boolean,
                                timestamp without time zone);
"""


def upgrade():
    op.create_table(
        "booking_policy",
        sa.Column("id", sa.SmallInteger(), nullable=False, server_default="1"),
        sa.Column("horizon_days", sa.Integer(), nullable=True),
        sa.Column("release_time", sa.Time(), nullable=False, server_default="00:00:00"),
        sa.Column("booking_cutoff_minutes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cancel_deadline_minutes", sa.Integer(), nullable=False,
                  server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.CheckConstraint("id = 1", name=op.f("ck_booking_policy_single_row")),
        sa.CheckConstraint("horizon_days BETWEEN 1 AND 90",
                           name=op.f("ck_booking_policy_horizon_days_range")),
        sa.CheckConstraint("booking_cutoff_minutes BETWEEN 0 AND 1440",
                           name=op.f("ck_booking_policy_booking_cutoff_range")),
        sa.CheckConstraint("cancel_deadline_minutes BETWEEN 0 AND 10080",
                           name=op.f("ck_booking_policy_cancel_deadline_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_policy")),
    )
    op.execute("INSERT INTO booking_policy (id) VALUES (1)")

    op.add_column("departments", sa.Column("horizon_days", sa.Integer(), nullable=True))
    op.add_column("departments", sa.Column("release_time", sa.Time(), nullable=True))
    op.create_check_constraint(op.f("ck_departments_horizon_days_range"), "departments",
                               "horizon_days BETWEEN 1 AND 90")

    op.add_column("schedules", sa.Column("slot_minutes", sa.Integer(), nullable=True))
    op.add_column("schedules", sa.Column("status", sa.String(length=20), nullable=False,
                                         server_default="open"))
    op.create_check_constraint(op.f("ck_schedules_slot_minutes_range"), "schedules",
                               "slot_minutes BETWEEN 5 AND 240")
    op.create_check_constraint(op.f("ck_schedules_status"), "schedules",
                               "status IN ('open', 'suspended')")

    op.create_table(
        "schedule_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked_count", sa.Integer(), nullable=False, server_default="0"),
        sa.CheckConstraint("schedule_within_capacity(booked_count, capacity)",
                           name=op.f("ck_schedule_slots_capacity")),
        sa.CheckConstraint("start_time < end_time", name=op.f("ck_schedule_slots_time_order")),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], ondelete="CASCADE",
                                name=op.f("fk_schedule_slots_schedule_id_schedules")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_slots")),
        sa.UniqueConstraint("schedule_id", "ordinal",
                            name=op.f("uq_schedule_slots_schedule_id_ordinal")),
    )

    op.add_column("registrations", sa.Column("slot_id", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_registrations_slot_id_schedule_slots"), "registrations",
                          "schedule_slots", ["slot_id"], ["id"], ondelete="SET NULL")
    op.create_index(op.f("ix_registrations_slot_id"), "registrations", ["slot_id"])

    op.execute(POLICY_FUNCTIONS)
    op.execute(LAYOUT)
    op.execute(VISIT)
    op.execute(COUNTER_TRIGGERS)
    op.execute(BOOK_FUNCTION)


def downgrade():
    op.execute(DROP_BOOK_FUNCTION)
    # The earlier booking function is migration 0004's.
    earlier = op.get_context().script.get_revision("0004").module
    op.execute(earlier.BOOK_FUNCTION)
    op.execute(earlier.COUNTER_TRIGGERS)
    op.execute(OLD_RESTATUS_TRIGGER)
    op.execute("""
        DROP TRIGGER schedules_cache_edit ON schedules;
        CREATE TRIGGER schedules_cache_edit
            AFTER UPDATE OF doctor_id, department_id, date, start_time, end_time,
                            max_appointments
            ON schedules
            FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('catalogue');
        DROP TRIGGER schedules_slots ON schedules;
        DROP FUNCTION lay_out_schedule_slots(integer);
        DROP FUNCTION schedules_slot_layout();
        DROP FUNCTION schedule_slot_layout(time, time, integer, integer);
        DROP FUNCTION schedule_closes_at(integer, date, time, integer);
        DROP FUNCTION registration_visit_start(integer, integer);
        DROP FUNCTION registration_visit_end(integer, integer);
        DROP FUNCTION visit_at(date, time, time);
        DROP FUNCTION booking_cutoff();
        DROP FUNCTION schedule_release_at(date, integer);
        DROP FUNCTION release_instant(date, integer, time, integer, time);
    """)
    op.drop_index(op.f("ix_registrations_slot_id"), table_name="registrations")
    op.drop_constraint(op.f("fk_registrations_slot_id_schedule_slots"), "registrations",
                       type_="foreignkey")
    op.drop_column("registrations", "slot_id")
    op.drop_table("schedule_slots")
    op.drop_constraint(op.f("ck_schedules_status"), "schedules", type_="check")
    op.drop_constraint(op.f("ck_schedules_slot_minutes_range"), "schedules", type_="check")
    op.drop_column("schedules", "status")
    op.drop_column("schedules", "slot_minutes")
    op.drop_constraint(op.f("ck_departments_horizon_days_range"), "departments",
                       type_="check")
    op.drop_column("departments", "release_time")
    op.drop_column("departments", "horizon_days")
    op.drop_table("booking_policy")
