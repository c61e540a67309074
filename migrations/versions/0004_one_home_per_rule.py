"""One home per booking rule, and cache generations kept by the database.

* Which statuses hold a slot is defined once, by the SQL function
  registration_holds_slot(status); the counter triggers, the partial unique index and the
  booking function call it (SQL functions this simple are inlined by the planner, so the
  index still serves queries that call it).
* Capacity is defined once, by schedule_within_capacity(booked, capacity): the CHECK
  ck_schedules_capacity holds it for every writer (the counter trigger keeps booked_count),
  and the booking function asks it before inserting, so a full schedule is refused without a
  write. "One active registration per patient and schedule" is the partial unique index. The
  function inserts and, when the database refuses, reports which rule refused (a duplicate
  before a full schedule).
* cache_generations: counters that statement-level triggers bump in the writing transaction,
  so every committed write — through the API, seed.py, psql or a function — is visible to the
  per-process caches, which read the sums at most every CACHE_SYNC_SECONDS. Scopes:
  `catalogue` (departments, doctors, affiliations, schedules except their counters), `slots`
  (the counters behind available_slots; sharded by backend so that bookings of different
  schedules do not queue on one row) and `callers` (users: rights, token versions).

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SLOT_SHARDS = 16

HOLDS_SLOT = """
CREATE FUNCTION registration_holds_slot(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN status IN ('scheduled', 'completed');
"""

WITHIN_CAPACITY = """
CREATE FUNCTION schedule_within_capacity(booked integer, capacity integer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN booked BETWEEN 0 AND capacity;

ALTER TABLE schedules DROP CONSTRAINT ck_schedules_capacity;
ALTER TABLE schedules ADD CONSTRAINT ck_schedules_capacity
    CHECK (schedule_within_capacity(booked_count, max_appointments));
"""

OLD_CAPACITY = """
ALTER TABLE schedules DROP CONSTRAINT ck_schedules_capacity;
ALTER TABLE schedules ADD CONSTRAINT ck_schedules_capacity
    CHECK (booked_count >= 0 AND booked_count <= max_appointments);
DROP FUNCTION schedule_within_capacity(integer, integer);
"""

COUNTER_TRIGGERS = """
CREATE OR REPLACE FUNCTION registrations_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE schedules
       SET booked_count = booked_count
                          + CASE WHEN registration_holds_slot(NEW.status) THEN 1 ELSE 0 END,
           last_queue_number = GREATEST(last_queue_number + 1, COALESCE(NEW.queue_number, 0))
     WHERE id = NEW.schedule_id
    RETURNING last_queue_number INTO STRICT NEW.queue_number;
    RETURN NEW;
EXCEPTION WHEN no_data_found THEN
    RAISE foreign_key_violation USING
        MESSAGE = format('schedule %s does not exist', NEW.schedule_id),
        CONSTRAINT = 'fk_registrations_schedule_id_schedules';
END $$;

CREATE OR REPLACE FUNCTION registrations_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_active boolean := registration_holds_slot(OLD.status);
    is_active boolean := registration_holds_slot(NEW.status);
BEGIN
    IF OLD.schedule_id = NEW.schedule_id THEN
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
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION registrations_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF registration_holds_slot(OLD.status) THEN
        -- Finds no row when the schedule itself is being deleted (cascade): nothing to do.
        UPDATE schedules SET booked_count = booked_count - 1 WHERE id = OLD.schedule_id;
    END IF;
    RETURN NULL;
END $$;
"""

OLD_ACTIVE_INDEX = ("CREATE UNIQUE INDEX uq_registrations_active_patient_schedule ON registrations "
                    "(patient_id, schedule_id) WHERE status IN ('scheduled', 'completed')")
ACTIVE_INDEX = ("CREATE UNIQUE INDEX uq_registrations_active_patient_schedule ON registrations "
                "(patient_id, schedule_id) WHERE registration_holds_slot(status)")

BOOK_FUNCTION = """
CREATE OR REPLACE FUNCTION book_registration(
    p_patient_id integer, p_schedule_id integer, p_notes text,
    p_user_id integer, p_is_admin boolean, p_now timestamp without time zone)
RETURNS TABLE (outcome text, duplicate_id integer, registration_id integer,
               reg_status varchar, reg_notes text, reg_queue_number integer,
               reg_created_at timestamptz, reg_updated_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_owner integer;
    v_start timestamp without time zone;
    v_booked integer;
    v_capacity integer;
    v_constraint text;
BEGIN
    -- Whose patient (callers other than admins may book only their own).
    SELECT p.user_id INTO v_owner FROM patients AS p WHERE p.id = p_patient_id;
    IF NOT FOUND OR (NOT p_is_admin AND v_owner IS DISTINCT FROM p_user_id) THEN
        outcome := 'patient_not_found';
        RETURN NEXT;
        RETURN;
    END IF;

    -- Every writer of registrations locks the schedule row first (see app/services).
    SELECT s.date + s.start_time, s.booked_count, s.max_appointments
      INTO v_start, v_booked, v_capacity
      FROM schedules AS s WHERE s.id = p_schedule_id
       FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'schedule_not_found';
    ELSIF v_start <= p_now THEN
        outcome := 'schedule_started';
    ELSIF NOT schedule_within_capacity(v_booked + 1, v_capacity) THEN
        -- Full: refused without a write (the CHECK would refuse the insert anyway).
        SELECT r.id INTO duplicate_id FROM registrations AS r
         WHERE r.patient_id = p_patient_id AND r.schedule_id = p_schedule_id
           AND registration_holds_slot(r.status)
         LIMIT 1;
        outcome := CASE WHEN duplicate_id IS NULL THEN 'schedule_full'
                        ELSE 'duplicate_registration' END;
    ELSE
        BEGIN
            INSERT INTO registrations AS r (patient_id, schedule_id, status, notes)
            VALUES (p_patient_id, p_schedule_id, 'scheduled', p_notes)
            RETURNING r.id, r.status, r.notes, r.queue_number, r.created_at, r.updated_at
                 INTO registration_id, reg_status, reg_notes, reg_queue_number,
                      reg_created_at, reg_updated_at;
            outcome := 'booked';
        EXCEPTION WHEN check_violation OR unique_violation THEN
            -- The capacity CHECK (via the counter trigger) or the partial unique index
            -- refused. A patient who already holds a slot hears that first.
            GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
            SELECT r.id INTO duplicate_id FROM registrations AS r
             WHERE r.patient_id = p_patient_id AND r.schedule_id = p_schedule_id
               AND registration_holds_slot(r.status)
             LIMIT 1;
            IF duplicate_id IS NOT NULL THEN
                outcome := 'duplicate_registration';
            ELSIF v_constraint = 'ck_schedules_capacity' THEN
                outcome := 'schedule_full';
            ELSE
                RAISE;
            END IF;
        END;
    END IF;
    RETURN NEXT;
END;
$$;
"""

OLD_BOOK_FUNCTION_BODY_CHECKS = """
CREATE OR REPLACE FUNCTION book_registration(
    p_patient_id integer, p_schedule_id integer, p_notes text,
    p_user_id integer, p_is_admin boolean, p_now timestamp without time zone)
RETURNS TABLE (outcome text, duplicate_id integer, registration_id integer,
               reg_status varchar, reg_notes text, reg_queue_number integer,
               reg_created_at timestamptz, reg_updated_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_owner integer;
    v_start timestamp without time zone;
    v_booked integer;
    v_capacity integer;
BEGIN
    SELECT p.user_id INTO v_owner FROM patients AS p WHERE p.id = p_patient_id;
    IF NOT FOUND OR (NOT p_is_admin AND v_owner IS DISTINCT FROM p_user_id) THEN
        outcome := 'patient_not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT s.date + s.start_time, s.booked_count, s.max_appointments
      INTO v_start, v_booked, v_capacity
      FROM schedules AS s WHERE s.id = p_schedule_id
       FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'schedule_not_found';
    ELSIF v_start <= p_now THEN
        outcome := 'schedule_started';
    ELSE
        SELECT r.id INTO duplicate_id FROM registrations AS r
         WHERE r.patient_id = p_patient_id AND r.schedule_id = p_schedule_id
           AND r.status IN ('scheduled', 'completed')
         LIMIT 1;
        IF duplicate_id IS NOT NULL THEN
            outcome := 'duplicate_registration';
        ELSIF v_booked >= v_capacity THEN
            outcome := 'schedule_full';
        ELSE
            INSERT INTO registrations AS r (patient_id, schedule_id, status, notes)
            VALUES (p_patient_id, p_schedule_id, 'scheduled', p_notes)
            RETURNING r.id, r.status, r.notes, r.queue_number, r.created_at, r.updated_at
                 INTO registration_id, reg_status, reg_notes, reg_queue_number,
                      reg_created_at, reg_updated_at;
            outcome := 'booked';
        END IF;
    END IF;
    RETURN NEXT;
END;
$$;
"""

GENERATIONS = f"""
CREATE TABLE cache_generations (
    scope varchar(20) NOT NULL,
    shard smallint NOT NULL,
    generation bigint NOT NULL DEFAULT 0,
    CONSTRAINT pk_cache_generations PRIMARY KEY (scope, shard)
);
INSERT INTO cache_generations (scope, shard)
SELECT 'catalogue', 0 UNION ALL SELECT 'callers', 0
UNION ALL SELECT 'slots', shard FROM generate_series(0, {SLOT_SHARDS - 1}) AS shard;
-- A random number per database: a database created anew (whose counters start again at 0)
-- never meets the cache entries of an earlier one in a shared Redis.
INSERT INTO cache_generations (scope, shard, generation)
VALUES ('epoch', 0, floor(random() * 9007199254740991)::bigint);

-- TG_ARGV[0]: the scope; TG_ARGV[1]: its number of shards (a transaction bumps the shard of
-- its backend, so concurrent writers rarely wait for each other on this table).
CREATE FUNCTION bump_cache_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_generations SET generation = generation + 1
     WHERE scope = TG_ARGV[0]
       AND shard = pg_backend_pid() % COALESCE(TG_ARGV[1]::integer, 1);
    RETURN NULL;
END $$;

-- For writers that bypass triggers on purpose (the bulk seeder's COPY).
CREATE FUNCTION bump_all_cache_generations() RETURNS void LANGUAGE sql AS $$
    UPDATE cache_generations SET generation = generation + 1 WHERE scope <> 'epoch';
$$;

CREATE TRIGGER departments_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON departments
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('catalogue');
CREATE TRIGGER doctors_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON doctors
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('catalogue');
CREATE TRIGGER affiliations_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON affiliations
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('catalogue');
CREATE TRIGGER schedules_cache AFTER INSERT OR DELETE OR TRUNCATE ON schedules
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('catalogue');
CREATE TRIGGER schedules_cache_edit
    AFTER UPDATE OF doctor_id, department_id, date, start_time, end_time, max_appointments
    ON schedules
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('catalogue');
CREATE TRIGGER schedules_cache_slots AFTER UPDATE OF booked_count ON schedules
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('slots', '{SLOT_SHARDS}');
CREATE TRIGGER users_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation('callers');
"""

DROP_GENERATIONS = """
DROP TRIGGER IF EXISTS users_cache ON users;
DROP TRIGGER IF EXISTS schedules_cache_slots ON schedules;
DROP TRIGGER IF EXISTS schedules_cache_edit ON schedules;
DROP TRIGGER IF EXISTS schedules_cache ON schedules;
DROP TRIGGER IF EXISTS affiliations_cache ON affiliations;
DROP TRIGGER IF EXISTS doctors_cache ON doctors;
DROP TRIGGER IF EXISTS departments_cache ON departments;
DROP FUNCTION IF EXISTS bump_all_cache_generations();
DROP FUNCTION IF EXISTS bump_cache_generation();
DROP TABLE IF EXISTS cache_generations;
"""


def upgrade():
    op.execute(HOLDS_SLOT)
    op.execute(WITHIN_CAPACITY)
    op.execute(COUNTER_TRIGGERS)
    op.execute("DROP INDEX uq_registrations_active_patient_schedule")
    op.execute(ACTIVE_INDEX)
    op.execute(BOOK_FUNCTION)
    op.execute(GENERATIONS)


def downgrade():
    op.execute(DROP_GENERATIONS)
    op.execute(OLD_BOOK_FUNCTION_BODY_CHECKS)
    op.execute("DROP INDEX uq_registrations_active_patient_schedule")
    op.execute(OLD_ACTIVE_INDEX)
    op.execute(COUNTER_TRIGGERS.replace("registration_holds_slot(NEW.status)",
                                        "NEW.status IN ('scheduled', 'completed')")
               .replace("registration_holds_slot(OLD.status)",
                        "OLD.status IN ('scheduled', 'completed')"))
    op.execute("DROP FUNCTION registration_holds_slot(text)")
    op.execute(OLD_CAPACITY)
