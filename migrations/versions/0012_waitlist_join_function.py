"""Joining a waitlist (候补) as one database function, like a booking.

In a release rush most families who lose a place join the waitlist at once. Joining took
about ten statements from the service (the schedule, the patient, the policy, the latest
slot, a duplicate look-up, the lock, an active-registration look-up, the insert, the commit
and a re-read for the entry's position); join_waitlist() does the same work in one call,
answering which rule refused in the same order:

1. schedule_not_found, patient_not_found (not the caller's; admins see every patient);
2. the booking policy, read without a lock: schedule_started, schedule_suspended, and for
   patients not_yet_released and booking_closed (the last slot's start minus the cutoff);
3. under the schedule row's lock (the lock a freed place takes while it serves the
   waitlist, and a booking while it counts): schedule_suspended again,
   duplicate_waitlist_entry, duplicate_registration (with its id), schedule_not_full;
4. the insert, and the entry's 1-based position among the waiting entries.

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

JOIN_FUNCTION = """
CREATE FUNCTION join_waitlist(p_patient_id integer, p_schedule_id integer, p_user_id integer,
                              p_is_admin boolean, p_now timestamp)
RETURNS TABLE (outcome text, existing_id integer, entry_id integer,
               entry_status character varying, entry_position integer,
               entry_created_at timestamp with time zone,
               entry_updated_at timestamp with time zone,
               schedule_start timestamp, release_at timestamp)
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    v_owner integer;
    v_last_start time;
    v_free integer;
    v_status text;
BEGIN
    SELECT sc.date, sc.start_time, sc.slot_minutes, sc.status,
           release_instant(sc.date, d.horizon_days, d.release_time, pol.horizon_days,
                           pol.release_time) AS release_at,
           make_interval(mins => COALESCE(pol.booking_cutoff_minutes, 0)) AS cutoff
      INTO s
      FROM schedules AS sc
      JOIN departments AS d ON d.id = sc.department_id
      LEFT JOIN booking_policy AS pol ON pol.id = 1
     WHERE sc.id = p_schedule_id;
    IF NOT FOUND THEN
        outcome := 'schedule_not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    schedule_start := s.date + s.start_time;

    SELECT p.user_id INTO v_owner FROM patients AS p WHERE p.id = p_patient_id;
    IF NOT FOUND OR (NOT p_is_admin AND v_owner IS DISTINCT FROM p_user_id) THEN
        outcome := 'patient_not_found';
        RETURN NEXT;
        RETURN;
    END IF;

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
    IF outcome IS NOT NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT sc.max_appointments - sc.booked_count, sc.status INTO v_free, v_status
      FROM schedules AS sc WHERE sc.id = p_schedule_id
       FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'schedule_not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    IF v_status <> 'open' THEN
        outcome := 'schedule_suspended';
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT w.id INTO existing_id FROM waitlist_entries AS w
     WHERE w.schedule_id = p_schedule_id AND w.patient_id = p_patient_id
       AND w.status = 'waiting';
    IF existing_id IS NOT NULL THEN
        outcome := 'duplicate_waitlist_entry';
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT r.id INTO existing_id FROM registrations AS r
     WHERE r.patient_id = p_patient_id AND r.schedule_id = p_schedule_id
       AND registration_holds_slot(r.status)
     LIMIT 1;
    IF existing_id IS NOT NULL THEN
        outcome := 'duplicate_registration';
    ELSIF v_free > 0 THEN
        outcome := 'schedule_not_full';
    END IF;
    IF outcome IS NOT NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;

    INSERT INTO waitlist_entries AS w (schedule_id, patient_id, status)
    VALUES (p_schedule_id, p_patient_id, 'waiting')
    RETURNING w.id, w.status, w.created_at, w.updated_at
         INTO entry_id, entry_status, entry_created_at, entry_updated_at;
    SELECT count(*) INTO entry_position FROM waitlist_entries AS w
     WHERE w.schedule_id = p_schedule_id AND w.status = 'waiting' AND w.id <= entry_id;
    outcome := 'joined';
    RETURN NEXT;
END $$;
"""


def upgrade():
    op.execute(JOIN_FUNCTION)


def downgrade():
    op.execute("DROP FUNCTION join_waitlist(integer, integer, integer, boolean, "
               "timestamp without time zone)")
