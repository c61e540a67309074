"""Stop-clinic (停诊), substitution (替诊) and the waitlist (候补).

* schedules.suspend_reason; registrations.cancelled_by (patient | admin | hospital),
  cancel_reason and moved_from_schedule_id.
* suspend_schedule(): in one call, under the locks of both schedules taken in id order (the
  global lock order: schedules by id, then registrations), either cancels every scheduled
  registration for the hospital or moves them, ids kept and in their old queue order, to a
  substitute session (new queue numbers, the earliest free slots), expires the waiting
  entries and marks the schedule suspended. A refusal changes nothing.
* waitlist_entries: one waiting entry per patient and schedule (partial unique index).
  serve_waitlist() books the waiting entries of a schedule in join order while places
  remain, through book_registration() with the patient's own rights, so every booking rule
  applies; an entry a person rule refuses is skipped with the refusal's code. Every
  transaction that frees a place calls it before it commits, under the schedule's lock.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The refusals of book_registration() that concern only the entry's patient: the entry is
# skipped and the next one tried. Any other refusal concerns every entry alike (no place a
# patient may take, started, suspended, not yet released): serving stops.
SERVE_WAITLIST = """
CREATE FUNCTION serve_waitlist(p_schedule_id integer, p_now timestamp) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    e record;
    b record;
    booked integer := 0;
BEGIN
    -- The caller holds the schedule row's lock; take it anyway, so that no caller can forget.
    PERFORM 1 FROM schedules WHERE id = p_schedule_id FOR UPDATE;
    FOR e IN
        SELECT w.id, w.patient_id, p.user_id
          FROM waitlist_entries AS w JOIN patients AS p ON p.id = w.patient_id
         WHERE w.schedule_id = p_schedule_id AND w.status = 'waiting'
         ORDER BY w.id
           FOR UPDATE OF w
    LOOP
        SELECT * INTO b
          FROM book_registration(e.patient_id, p_schedule_id, NULL, NULL, e.user_id, false,
                                 p_now);
        IF b.outcome = 'booked' THEN
            UPDATE waitlist_entries
               SET status = 'booked', registration_id = b.registration_id, updated_at = now()
             WHERE id = e.id;
            booked := booked + 1;
        ELSIF b.outcome IN ('duplicate_registration', 'id_number_required', 'booking_suspended',
                            'daily_department_limit', 'too_many_active') THEN
            UPDATE waitlist_entries SET status = 'skipped', reason = b.outcome, updated_at = now()
             WHERE id = e.id;
        ELSIF b.outcome = 'schedule_started' THEN
            UPDATE waitlist_entries SET status = 'expired', updated_at = now()
             WHERE schedule_id = p_schedule_id AND status = 'waiting';
            EXIT;
        ELSE
            EXIT;
        END IF;
    END LOOP;
    RETURN booked;
END $$;
"""

# Outcomes: 'suspended', or the refusal's code. Every check runs before the first write.
SUSPEND_SCHEDULE = """
CREATE FUNCTION suspend_schedule(p_schedule_id integer, p_reason text,
                                 p_substitute_id integer, p_now timestamp)
RETURNS TABLE (outcome text, moved integer, cancelled integer)
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    sub record;
    r record;
    v_slot integer;
    v_queue integer;
    v_movable integer;
BEGIN
    moved := 0;
    cancelled := 0;
    -- Both rows locked in id order, whichever of them is the substitute.
    PERFORM 1 FROM schedules
      WHERE id IN (p_schedule_id, p_substitute_id) ORDER BY id FOR UPDATE;
    SELECT * INTO s FROM schedules WHERE id = p_schedule_id;
    IF NOT FOUND THEN
        outcome := 'schedule_not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    IF s.date + s.start_time <= p_now THEN
        outcome := 'schedule_started';
    ELSIF s.status = 'suspended' THEN
        outcome := 'already_suspended';
    END IF;
    IF outcome IS NULL AND p_substitute_id IS NOT NULL THEN
        SELECT * INTO sub FROM schedules WHERE id = p_substitute_id;
        IF NOT FOUND THEN
            outcome := 'substitute_not_found';
        ELSIF sub.id = s.id OR sub.department_id <> s.department_id
              OR sub.date + sub.start_time <= p_now OR sub.status <> 'open' THEN
            outcome := 'invalid_substitute';
        ELSE
            -- Registrations whose patient is already active on the substitute stay behind
            -- (cancelled); every other one needs a free place there.
            SELECT count(*) INTO v_movable
              FROM registrations AS x
             WHERE x.schedule_id = s.id AND x.status = 'scheduled'
               AND NOT EXISTS (SELECT FROM registrations AS y
                                WHERE y.schedule_id = sub.id AND y.patient_id = x.patient_id
                                  AND registration_holds_slot(y.status));
            IF v_movable > sub.max_appointments - sub.booked_count THEN
                outcome := 'substitute_too_small';
            END IF;
        END IF;
    END IF;
    IF outcome IS NOT NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;

    UPDATE schedules SET status = 'suspended', suspend_reason = p_reason WHERE id = s.id;
    UPDATE waitlist_entries SET status = 'expired', updated_at = now()
     WHERE schedule_id = s.id AND status = 'waiting';
    FOR r IN
        SELECT x.id, x.patient_id FROM registrations AS x
         WHERE x.schedule_id = s.id AND x.status = 'scheduled'
         ORDER BY x.queue_number
           FOR UPDATE
    LOOP
        IF p_substitute_id IS NULL OR EXISTS (
                SELECT FROM registrations AS y
                 WHERE y.schedule_id = p_substitute_id AND y.patient_id = r.patient_id
                   AND registration_holds_slot(y.status)) THEN
            UPDATE registrations
               SET status = 'cancelled', cancelled_by = 'hospital', cancel_reason = p_reason,
                   updated_at = now()
             WHERE id = r.id;
            cancelled := cancelled + 1;
        ELSE
            v_slot := NULL;
            IF sub.slot_minutes IS NOT NULL THEN
                SELECT sl.id INTO v_slot FROM schedule_slots AS sl
                 WHERE sl.schedule_id = sub.id
                   AND schedule_within_capacity(sl.booked_count + 1, sl.capacity)
                 ORDER BY sl.ordinal
                 LIMIT 1;
            END IF;
            UPDATE schedules SET last_queue_number = last_queue_number + 1
             WHERE id = sub.id
            RETURNING last_queue_number INTO v_queue;
            UPDATE registrations
               SET schedule_id = sub.id, slot_id = v_slot, queue_number = v_queue,
                   moved_from_schedule_id = s.id, updated_at = now()
             WHERE id = r.id;
            moved := moved + 1;
        END IF;
    END LOOP;
    outcome := 'suspended';
    RETURN NEXT;
END $$;
"""


def upgrade():
    op.add_column("schedules", sa.Column("suspend_reason", sa.String(length=500),
                                         nullable=True))
    op.add_column("registrations", sa.Column("cancelled_by", sa.String(length=20),
                                             nullable=True))
    op.add_column("registrations", sa.Column("cancel_reason", sa.String(length=500),
                                             nullable=True))
    op.add_column("registrations", sa.Column("moved_from_schedule_id", sa.Integer(),
                                             nullable=True))
    op.create_check_constraint(op.f("ck_registrations_cancelled_by"), "registrations",
                               "cancelled_by IN ('patient', 'admin', 'hospital')")
    op.create_foreign_key(op.f("fk_registrations_moved_from_schedule_id_schedules"),
                          "registrations", "schedules", ["moved_from_schedule_id"], ["id"],
                          ondelete="SET NULL")
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False, server_default="waiting"),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=50), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.CheckConstraint("status IN ('waiting', 'booked', 'skipped', 'left', 'expired')",
                           name=op.f("ck_waitlist_entries_status")),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], ondelete="CASCADE",
                                name=op.f("fk_waitlist_entries_schedule_id_schedules")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE",
                                name=op.f("fk_waitlist_entries_patient_id_patients")),
        sa.ForeignKeyConstraint(["registration_id"], ["registrations.id"],
                                ondelete="SET NULL",
                                name=op.f("fk_waitlist_entries_registration_id_registrations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    op.create_index("uq_waitlist_entries_waiting_patient", "waitlist_entries",
                    ["schedule_id", "patient_id"], unique=True,
                    postgresql_where=sa.text("status = 'waiting'"))
    op.create_index(op.f("ix_waitlist_entries_patient_id"), "waitlist_entries", ["patient_id"])
    op.create_index(op.f("ix_waitlist_entries_schedule_id"), "waitlist_entries",
                    ["schedule_id"])
    op.create_index(op.f("ix_waitlist_entries_registration_id"), "waitlist_entries",
                    ["registration_id"])
    op.execute(SERVE_WAITLIST)
    op.execute(SUSPEND_SCHEDULE)


def downgrade():
    op.execute("DROP FUNCTION suspend_schedule(integer, text, integer, timestamp)")
    op.execute("DROP FUNCTION serve_waitlist(integer, timestamp)")
    op.drop_table("waitlist_entries")
    op.drop_constraint(op.f("fk_registrations_moved_from_schedule_id_schedules"),
                       "registrations", type_="foreignkey")
    op.drop_constraint(op.f("ck_registrations_cancelled_by"), "registrations", type_="check")
    for column in ("moved_from_schedule_id", "cancel_reason", "cancelled_by"):
        op.drop_column("registrations", column)
    op.drop_column("schedules", "suspend_reason")
