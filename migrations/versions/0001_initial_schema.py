"""Initial schema: every table, constraint, index and the booking triggers.

Revision ID: 0001
Revises:

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# schedules.booked_count (registrations holding a slot: scheduled or completed) and
# schedules.last_queue_number are maintained here, by the database, for every writer.
# The UPDATE of the schedule row serialises concurrent bookings of one schedule, and the
# CHECK constraint ck_schedules_capacity (booked_count <= max_appointments) rejects the
# booking that would overbook: the invariant holds even across processes and hosts.
BOOKING_TRIGGERS = """
CREATE FUNCTION registrations_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE schedules
       SET booked_count = booked_count
                          + CASE WHEN NEW.status IN ('scheduled', 'completed') THEN 1 ELSE 0 END,
           last_queue_number = GREATEST(last_queue_number + 1, COALESCE(NEW.queue_number, 0))
     WHERE id = NEW.schedule_id
    RETURNING last_queue_number INTO STRICT NEW.queue_number;
    RETURN NEW;
EXCEPTION WHEN no_data_found THEN
    RAISE foreign_key_violation USING
        MESSAGE = format('schedule %s does not exist', NEW.schedule_id),
        CONSTRAINT = 'fk_registrations_schedule_id_schedules';
END $$;

CREATE FUNCTION registrations_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_active boolean := OLD.status IN ('scheduled', 'completed');
    is_active boolean := NEW.status IN ('scheduled', 'completed');
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

CREATE FUNCTION registrations_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('scheduled', 'completed') THEN
        -- Finds no row when the schedule itself is being deleted (cascade): nothing to do.
        UPDATE schedules SET booked_count = booked_count - 1 WHERE id = OLD.schedule_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER registrations_book BEFORE INSERT ON registrations
    FOR EACH ROW EXECUTE FUNCTION registrations_before_insert();
CREATE TRIGGER registrations_restatus AFTER UPDATE OF status, schedule_id ON registrations
    FOR EACH ROW EXECUTE FUNCTION registrations_after_update();
CREATE TRIGGER registrations_release AFTER DELETE ON registrations
    FOR EACH ROW EXECUTE FUNCTION registrations_after_delete();
"""

DROP_BOOKING_TRIGGERS = """
DROP TRIGGER IF EXISTS registrations_release ON registrations;
DROP TRIGGER IF EXISTS registrations_restatus ON registrations;
DROP TRIGGER IF EXISTS registrations_book ON registrations;
DROP FUNCTION IF EXISTS registrations_after_delete();
DROP FUNCTION IF EXISTS registrations_after_update();
DROP FUNCTION IF EXISTS registrations_before_insert();
"""


def upgrade():
    # btree_gist: the exclusion constraint that keeps a doctor's schedules from overlapping.
    # pg_trgm: trigram indexes for the substring searches.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('name', name=op.f('uq_departments_name'))
    )
    op.create_table('doctors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('gender', sa.Enum('male', 'female', name='gender', native_enum=False, create_constraint=True, length=10), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone_number', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_doctors')),
    sa.UniqueConstraint('phone_number', name=op.f('uq_doctors_phone_number'))
    )
    op.create_table('job_runs',
    sa.Column('job_name', sa.String(length=100), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=255), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('affected_rows', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('job_name', 'period_start', name=op.f('pk_job_runs'))
    )
    op.create_table('affiliations',
    sa.Column('doctor_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_affiliations_department_id_departments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_affiliations_doctor_id_doctors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('doctor_id', 'department_id', name=op.f('pk_affiliations'))
    )
    op.create_index(op.f('ix_affiliations_department_id'), 'affiliations', ['department_id'], unique=False)

    op.create_table('schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('doctor_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.Column('max_appointments', sa.Integer(), nullable=False),
    sa.Column('booked_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_queue_number', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    postgresql.ExcludeConstraint((sa.column('doctor_id'), '='), (sa.text('tsrange(date + start_time, date + end_time)'), '&&'), using='gist', name='ex_schedules_doctor_overlap'),
    sa.CheckConstraint('booked_count >= 0 AND booked_count <= max_appointments', name=op.f('ck_schedules_capacity')),
    sa.CheckConstraint('last_queue_number >= 0', name=op.f('ck_schedules_queue_counter')),
    sa.CheckConstraint('max_appointments BETWEEN 1 AND 1000', name=op.f('ck_schedules_max_appointments_range')),
    sa.CheckConstraint('start_time < end_time', name=op.f('ck_schedules_time_order')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_schedules_department_id_departments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_schedules_doctor_id_doctors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedules'))
    )
    op.create_index('ix_schedules_date_start_time', 'schedules', ['date', 'start_time'], unique=False)
    op.create_index('ix_schedules_department_id_date', 'schedules', ['department_id', 'date'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('is_admin', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('phone_number', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('bio', sa.Text(), nullable=True),
    sa.Column('token_version', sa.Integer(), server_default='0', nullable=False),
    sa.Column('doctor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_users_doctor_id_doctors'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('doctor_id', name=op.f('uq_users_doctor_id')),
    sa.UniqueConstraint('phone_number', name=op.f('uq_users_phone_number'))
    )
    op.create_index('uq_users_username_lower', 'users', [sa.literal_column('lower(username)')], unique=True)

    op.create_table('idempotency_keys',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_body', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_idempotency_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_index(op.f('ix_idempotency_keys_created_at'), 'idempotency_keys', ['created_at'], unique=False)

    op.create_table('patients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('gender', sa.Enum('male', 'female', name='gender', native_enum=False, create_constraint=True, length=10), nullable=False),
    sa.Column('birthday', sa.Date(), nullable=False),
    sa.Column('phone_number', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_patients_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients')),
    sa.UniqueConstraint('user_id', 'name', 'birthday', name=op.f('uq_patients_user_id_name_birthday'))
    )
    op.create_index(op.f('ix_patients_user_id'), 'patients', ['user_id'], unique=False)

    op.create_table('registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('scheduled', 'completed', 'cancelled', 'no_show', name='registration_status', native_enum=False, create_constraint=True, length=20), server_default='scheduled', nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('queue_number', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('char_length(notes) <= 2000', name=op.f('ck_registrations_notes_length')),
    sa.CheckConstraint('queue_number >= 1', name=op.f('ck_registrations_queue_number_positive')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_registrations_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], name=op.f('fk_registrations_schedule_id_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registrations')),
    sa.UniqueConstraint('schedule_id', 'queue_number', name=op.f('uq_registrations_schedule_id_queue_number'))
    )
    op.create_index(op.f('ix_registrations_patient_id'), 'registrations', ['patient_id'], unique=False)
    op.create_index('ix_registrations_status', 'registrations', ['status'], unique=False)
    op.create_index('uq_registrations_active_patient_schedule', 'registrations', ['patient_id', 'schedule_id'], unique=True, postgresql_where=sa.text("status IN ('scheduled', 'completed')"))

    op.execute(BOOKING_TRIGGERS)


def downgrade():
    op.execute(DROP_BOOKING_TRIGGERS)
    op.drop_table('registrations')
    op.drop_table('patients')
    op.drop_table('idempotency_keys')
    op.drop_table('users')
    op.drop_table('schedules')
    op.drop_table('affiliations')
    op.drop_table('job_runs')
    op.drop_table('doctors')
    op.drop_table('departments')
