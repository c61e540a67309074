"""The booking as one database function: lock the schedule, check every rule, insert.

A booking used to take several round trips (read the patient, lock the schedule, look for a
duplicate, insert, commit), each planned anew. As a PL/pgSQL function it is one call whose
statements keep their query plans for the life of the connection, and the schedule row stays
locked only while the function runs. The function reports why it did not book, in the order
a client can act on, and the application turns that into the API's error; the booking
trigger, the capacity CHECK and the partial unique index still have the last word.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BOOK_FUNCTION = """
CREATE FUNCTION book_registration(
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


def upgrade():
    op.execute(BOOK_FUNCTION)


def downgrade():
    op.execute("DROP FUNCTION IF EXISTS book_registration(integer, integer, text, integer, "
               "boolean, timestamp without time zone)")
