"""Check-in (签到) and the event log.

* registrations: status checked_in (active: it holds its place) and checked_in_at;
  registration_holds_slot() counts it, and the partial unique index built on that function
  is rebuilt. booking_policy.check_in_opens_minutes.
* events: one immutable row per change, written by triggers on registrations,
  waitlist_entries, schedules, booking_policy and credit_pardons in the changing
  transaction, so every writer (the API, the jobs, psql) leaves its event and a rolled-back
  change leaves none. The actor comes from transaction-local settings the service sets
  (hospital.actor_user_id, hospital.actor_role, hospital.request_id); unset means the
  system.
* The feed's promise (a poller asking for what follows the last id it saw never misses an
  event): every transaction that writes an event holds a shared advisory lock on one key
  from before it takes its first event id until it ends. event_feed_horizon() reads the
  last id given out, then waits for the transactions holding that lock at that moment:
  once they are over, every event up to that id is committed or gone for good, and the
  feed answers only up to it.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The advisory lock key (two int4) every event-writing transaction holds shared.
FEED_LOCK = (1163284052, 1)  # "EVNT"

STATUSES_BEFORE = ("scheduled", "completed", "cancelled", "no_show")
STATUSES = ("scheduled", "checked_in", "completed", "cancelled", "no_show")


def _status_check(statuses) -> str:
    return "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"


HOLDS = """
CREATE OR REPLACE FUNCTION registration_holds_slot(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN status IN ({statuses});
"""

RECORD_EVENT = f"""
CREATE FUNCTION record_event(p_type text, p_registration_id integer, p_schedule_id integer,
                             p_patient_id integer, p_data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Held (shared) until the transaction ends, taken before the event's id: see
    -- event_feed_horizon().
    PERFORM pg_advisory_xact_lock_shared({FEED_LOCK[0]}, {FEED_LOCK[1]});
    INSERT INTO events (type, actor_user_id, actor_role, registration_id, schedule_id,
                        patient_id, data, request_id)
    VALUES (p_type,
            NULLIF(current_setting('hospital.actor_user_id', true), '')::integer,
            NULLIF(current_setting('hospital.actor_role', true), ''),
            p_registration_id, p_schedule_id, p_patient_id, COALESCE(p_data, '{{}}'),
            NULLIF(current_setting('hospital.request_id', true), ''));
END $$;

-- The last event id up to which the feed may answer: every event with an id up to it is
-- committed or rolled back. NULL when a transaction writing events did not end within
-- p_wait_ms (the feed then answers nothing new, and the poller asks again).
CREATE FUNCTION event_feed_horizon(p_wait_ms integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_last bigint;
    v_writers text[];
    v_deadline timestamptz := clock_timestamp() + make_interval(secs => p_wait_ms / 1000.0);
BEGIN
    -- First the last id given out, then who is writing: a writer not seen below takes its
    -- lock after this read, so its ids come after v_last.
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO v_last FROM events_id_seq;
    SELECT array_agg(l.virtualtransaction) INTO v_writers
      FROM pg_locks AS l
     WHERE l.locktype = 'advisory' AND l.classid = {FEED_LOCK[0]} AND l.objid = {FEED_LOCK[1]}
       AND l.objsubid = 2 AND l.granted AND l.pid <> pg_backend_pid();
    WHILE v_writers IS NOT NULL AND EXISTS (
            SELECT FROM pg_locks AS l
             WHERE l.locktype = 'advisory' AND l.classid = {FEED_LOCK[0]}
               AND l.objid = {FEED_LOCK[1]} AND l.objsubid = 2
               AND l.virtualtransaction = ANY (v_writers)) LOOP
        IF clock_timestamp() >= v_deadline THEN
            RETURN NULL;
        END IF;
        PERFORM pg_sleep(0.002);
    END LOOP;
    RETURN v_last;
END $$;
"""

TRIGGERS = """
CREATE FUNCTION registrations_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM record_event('registration.booked', NEW.id, NEW.schedule_id, NEW.patient_id,
                             jsonb_build_object('queue_number', NEW.queue_number,
                                                'slot_id', NEW.slot_id));
        RETURN NULL;
    END IF;
    IF NEW.schedule_id <> OLD.schedule_id THEN
        PERFORM record_event('registration.moved', NEW.id, NEW.schedule_id, NEW.patient_id,
                             jsonb_build_object('from_schedule_id', OLD.schedule_id,
                                                'queue_number', NEW.queue_number,
                                                'slot_id', NEW.slot_id));
    END IF;
    IF NEW.status <> OLD.status THEN
        kind := CASE
            WHEN NEW.status = 'scheduled' THEN 'registration.reinstated'
            ELSE 'registration.' || NEW.status END;
        PERFORM record_event(kind, NEW.id, NEW.schedule_id, NEW.patient_id,
                             CASE WHEN NEW.status = 'cancelled'
                                  THEN jsonb_build_object('from', OLD.status,
                                                          'cancelled_by', NEW.cancelled_by,
                                                          'cancel_reason', NEW.cancel_reason)
                                  ELSE jsonb_build_object('from', OLD.status) END);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER registrations_events AFTER INSERT OR UPDATE OF status, schedule_id
    ON registrations FOR EACH ROW EXECUTE FUNCTION registrations_events();

CREATE FUNCTION waitlist_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM record_event('waitlist.joined', NULL, NEW.schedule_id, NEW.patient_id,
                             jsonb_build_object('entry_id', NEW.id));
    ELSIF NEW.status <> OLD.status THEN
        PERFORM record_event('waitlist.' || NEW.status, NEW.registration_id, NEW.schedule_id,
                             NEW.patient_id,
                             jsonb_strip_nulls(jsonb_build_object('entry_id', NEW.id,
                                                                  'reason', NEW.reason)));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER waitlist_entries_events AFTER INSERT OR UPDATE OF status
    ON waitlist_entries FOR EACH ROW EXECUTE FUNCTION waitlist_events();

CREATE FUNCTION schedules_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status <> OLD.status THEN
        PERFORM record_event(CASE WHEN NEW.status = 'suspended' THEN 'schedule.suspended'
                                  ELSE 'schedule.resumed' END,
                             NULL, NEW.id, NULL,
                             jsonb_strip_nulls(jsonb_build_object('reason', NEW.suspend_reason)));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER schedules_events AFTER UPDATE OF status ON schedules
    FOR EACH ROW EXECUTE FUNCTION schedules_events();

CREATE FUNCTION booking_policy_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed jsonb;
BEGIN
    SELECT jsonb_object_agg(n.key, n.value) INTO changed
      FROM jsonb_each(to_jsonb(NEW)) AS n
      JOIN jsonb_each(to_jsonb(OLD)) AS o USING (key)
     WHERE n.value IS DISTINCT FROM o.value AND n.key NOT IN ('id', 'updated_at');
    IF changed IS NOT NULL THEN
        PERFORM record_event('policy.changed', NULL, NULL, NULL, changed);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER booking_policy_events AFTER UPDATE ON booking_policy
    FOR EACH ROW EXECUTE FUNCTION booking_policy_events();

CREATE FUNCTION credit_pardons_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM record_event('credit.pardoned', NULL, NULL,
                         NULLIF(current_setting('hospital.patient_id', true), '')::integer,
                         jsonb_build_object('person_id', NEW.person_id,
                                            'no_shows', NEW.no_shows, 'reason', NEW.reason));
    RETURN NULL;
END $$;

CREATE TRIGGER credit_pardons_events AFTER INSERT ON credit_pardons
    FOR EACH ROW EXECUTE FUNCTION credit_pardons_events();
"""

DROP_TRIGGERS = """
DROP TRIGGER credit_pardons_events ON credit_pardons;
DROP FUNCTION credit_pardons_events();
DROP TRIGGER booking_policy_events ON booking_policy;
DROP FUNCTION booking_policy_events();
DROP TRIGGER schedules_events ON schedules;
DROP FUNCTION schedules_events();
DROP TRIGGER waitlist_entries_events ON waitlist_entries;
DROP FUNCTION waitlist_events();
DROP TRIGGER registrations_events ON registrations;
DROP FUNCTION registrations_events();
DROP FUNCTION event_feed_horizon(integer);
DROP FUNCTION record_event(text, integer, integer, integer, jsonb);
"""


def upgrade():
    op.add_column("registrations", sa.Column("checked_in_at", sa.DateTime(timezone=True),
                                             nullable=True))
    op.drop_constraint(op.f("ck_registrations_registration_status"), "registrations",
                       type_="check")
    op.create_check_constraint(op.f("ck_registrations_registration_status"), "registrations",
                               _status_check(STATUSES))
    op.execute(HOLDS.format(statuses=", ".join(f"'{s}'" for s in
                                               ("scheduled", "checked_in", "completed"))))
    # The partial unique index's predicate calls the function: rebuilt on its new meaning.
    op.execute("REINDEX INDEX uq_registrations_active_patient_schedule")
    op.add_column("booking_policy", sa.Column("check_in_opens_minutes", sa.Integer(),
                                              nullable=False, server_default="60"))
    op.create_check_constraint(op.f("ck_booking_policy_check_in_opens_range"), "booking_policy",
                               "check_in_opens_minutes BETWEEN 0 AND 1440")

    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("clock_timestamp()")),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(length=10), nullable=True),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("data", postgresql.JSONB(), nullable=False,
                  server_default=sa.text("'{}'::jsonb")),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint("actor_role IN ('user', 'doctor', 'admin')",
                           name=op.f("ck_events_actor_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_registration_id_id", "events", ["registration_id", "id"],
                    postgresql_where=sa.text("registration_id IS NOT NULL"))
    op.create_index("ix_events_type_id", "events", ["type", "id"])
    op.execute(RECORD_EVENT)
    op.execute(TRIGGERS)


def downgrade():
    op.execute(DROP_TRIGGERS)
    op.drop_index("ix_events_type_id", table_name="events")
    op.drop_index("ix_events_registration_id_id", table_name="events")
    op.drop_table("events")
    op.drop_constraint(op.f("ck_booking_policy_check_in_opens_range"), "booking_policy",
                       type_="check")
    op.drop_column("booking_policy", "check_in_opens_minutes")
    op.execute("UPDATE registrations SET status = 'scheduled' WHERE status = 'checked_in'")
    op.execute(HOLDS.format(statuses=", ".join(f"'{s}'" for s in ("scheduled", "completed"))))
    op.execute("REINDEX INDEX uq_registrations_active_patient_schedule")
    op.drop_constraint(op.f("ck_registrations_registration_status"), "registrations",
                       type_="check")
    op.create_check_constraint(op.f("ck_registrations_registration_status"), "registrations",
                               _status_check(STATUSES_BEFORE))
    op.drop_column("registrations", "checked_in_at")
