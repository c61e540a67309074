"""Real-name patients (实名制), per-person quotas and no-show credit (爽约).

* persons: one row per person. Patients sharing a resident ID number (matched by its keyed
  fingerprint, never stored in clear) share one person, across accounts; a patient without
  a number is a person of its own. Every booking that a person rule may refuse locks the
  person row (after the schedule row: the global lock order), so two accounts booking the
  same person take turns and the second sees the first's booking.
* booking_policy gains the quota, credit and real-name fields (all off by default).
* person_no_show_credit(person, today) is the one definition of the no-show rule: the
  booking function and GET /patients/{id}/credit both ask it.
* registrations.no_show_pardoned: a pardoned no-show stays no_show and never counts again;
  credit_pardons keeps who pardoned what, when and why.
* book_registration() applies, after capacity: id_number_required, booking_suspended
  (patients only), daily_department_limit, too_many_active.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OWN_PERSON = """
-- A patient given no person (no ID number, or a writer that does not care) is a person of
-- its own: every writer gets this, the API, psql and the bulk seeder in trigger mode alike.
CREATE FUNCTION patients_own_person() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.person_id IS NULL THEN
        INSERT INTO persons DEFAULT VALUES RETURNING id INTO NEW.person_id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER patients_person BEFORE INSERT ON patients
    FOR EACH ROW EXECUTE FUNCTION patients_own_person();
"""

CREDIT = """
-- A counted no-show: not pardoned, on a schedule dated from today - window to today.
CREATE FUNCTION no_show_counts(p_status text, p_pardoned boolean, p_date date, p_today date,
                               p_window_days integer)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_status = 'no_show' AND NOT p_pardoned
       AND p_date BETWEEN p_today - p_window_days AND p_today;

-- With at least no_show_limit counted no-shows (the limit on), the person cannot book until
-- the latest one's date plus no_show_suspend_days; NULL when not suspended.
CREATE FUNCTION no_show_suspended_until(p_no_shows bigint, p_latest date, p_limit integer,
                                        p_suspend_days integer, p_today date)
RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_limit > 0 AND p_no_shows >= p_limit
                 AND p_latest + p_suspend_days > p_today
            THEN p_latest + p_suspend_days END;

CREATE FUNCTION person_no_show_credit(p_person_id integer, p_today date,
                                      OUT no_shows integer, OUT suspended_until date)
LANGUAGE sql STABLE AS $$
    SELECT c.n::integer,
           no_show_suspended_until(c.n, c.latest, pol.no_show_limit, pol.no_show_suspend_days,
                                   p_today)
      FROM booking_policy AS pol,
           LATERAL (
               SELECT count(*) AS n, max(s.date) AS latest
                 FROM patients AS p
                 JOIN registrations AS r ON r.patient_id = p.id
                 JOIN schedules AS s ON s.id = r.schedule_id
                WHERE p.person_id = p_person_id
                  AND no_show_counts(r.status, r.no_show_pardoned, s.date, p_today,
                                     pol.no_show_window_days)) AS c
     WHERE pol.id = 1
$$;
"""


def book_function(earlier: str) -> str:
    """Migration 0006's booking function with the person rules added after capacity."""
    steps = (
        # The signature stays; the answer gains the end of a no-show suspension.
        ("DROP FUNCTION book_registration(integer, integer, text, integer, boolean,\n"
         "                                timestamp without time zone);",
         "DROP FUNCTION book_registration(integer, integer, integer, text, integer, boolean,\n"
         "                                timestamp without time zone);"),
        ("               release_at timestamp)",
         "               release_at timestamp, suspended_until date)"),
        ("    v_owner integer;\n",
         "    v_owner integer;\n    v_person integer;\n    v_has_number boolean;\n"),
        ("    SELECT p.user_id INTO v_owner FROM patients AS p WHERE p.id = p_patient_id;",
         "    SELECT p.user_id, p.person_id, p.id_number_masked IS NOT NULL\n"
         "      INTO v_owner, v_person, v_has_number\n"
         "      FROM patients AS p WHERE p.id = p_patient_id;"),
        ("           make_interval(mins => COALESCE(pol.booking_cutoff_minutes, 0)) AS cutoff\n",
         "           make_interval(mins => COALESCE(pol.booking_cutoff_minutes, 0)) AS cutoff,\n"
         "           sc.department_id,\n"
         "           COALESCE(pol.require_id_number, false) AS require_id_number,\n"
         "           COALESCE(pol.no_show_limit > 0 OR pol.one_per_department_per_day\n"
         "                    OR pol.max_active_per_person IS NOT NULL, false) AS person_rules\n"),
        ("""    IF outcome IS NOT NULL THEN
        reg_slot_id := NULL;
        RETURN NEXT;
        RETURN;
    END IF;
""", """    IF outcome IS NOT NULL THEN
        reg_slot_id := NULL;
        RETURN NEXT;
        RETURN;
    END IF;

    -- The person's rules (实名制, quotas, no-show credit), under the person row's lock.
    IF s.require_id_number AND NOT v_has_number THEN
        outcome := 'id_number_required';
    ELSIF s.person_rules THEN
        outcome := person_refusal(v_person, s.date, s.department_id, p_now, p_is_admin,
                                  NULL);
        IF outcome = 'booking_suspended' THEN
            suspended_until := (person_no_show_credit(v_person, p_now::date)).suspended_until;
        END IF;
    END IF;
    IF outcome IS NOT NULL THEN
        reg_slot_id := NULL;
        RETURN NEXT;
        RETURN;
    END IF;
"""),
    )
    text = earlier
    for old, new in steps:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


PERSON_REFUSAL = """
-- The person rules for one more active registration of the person on a schedule dated
-- p_date in p_department_id, in their order; NULL when none refuses. With any of them on,
-- the person row is locked first (held until the transaction ends), so concurrent bookings
-- of one person through several accounts take turns; then one pass over the person's
-- registrations answers every rule. p_exclude: a registration not to count (the one being
-- reinstated).
CREATE FUNCTION person_refusal(p_person_id integer, p_date date, p_department_id integer,
                               p_now timestamp, p_is_admin boolean, p_exclude integer)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    pol record;
    c record;
    v_today date := p_now::date;
BEGIN
    SELECT * INTO pol FROM booking_policy WHERE id = 1;
    IF NOT FOUND OR (pol.no_show_limit = 0 AND NOT pol.one_per_department_per_day
                     AND pol.max_active_per_person IS NULL) THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM persons WHERE id = p_person_id FOR NO KEY UPDATE;
    SELECT count(*) FILTER (WHERE no_show_counts(r.status, r.no_show_pardoned, s.date,
                                                 v_today, pol.no_show_window_days))
               AS no_shows,
           max(s.date) FILTER (WHERE no_show_counts(r.status, r.no_show_pardoned, s.date,
                                                    v_today, pol.no_show_window_days))
               AS latest,
           count(*) FILTER (WHERE registration_holds_slot(r.status)
                              AND r.id IS DISTINCT FROM p_exclude
                              AND s.department_id = p_department_id AND s.date = p_date)
               AS same_day,
           count(*) FILTER (WHERE registration_holds_slot(r.status)
                              AND r.id IS DISTINCT FROM p_exclude
                              AND s.date + s.end_time > p_now)
               AS active
      INTO c
      FROM patients AS p
      JOIN registrations AS r ON r.patient_id = p.id
      JOIN schedules AS s ON s.id = r.schedule_id
     WHERE p.person_id = p_person_id;
    IF NOT p_is_admin AND no_show_suspended_until(c.no_shows, c.latest, pol.no_show_limit,
                                                  pol.no_show_suspend_days, v_today)
                          IS NOT NULL THEN
        RETURN 'booking_suspended';
    END IF;
    IF pol.one_per_department_per_day AND c.same_day > 0 THEN
        RETURN 'daily_department_limit';
    END IF;
    IF pol.max_active_per_person IS NOT NULL AND c.active >= pol.max_active_per_person THEN
        RETURN 'too_many_active';
    END IF;
    RETURN NULL;
END $$;
"""


def upgrade():
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_number_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("id_number_hash", name=op.f("uq_persons_id_number_hash")),
    )
    op.add_column("patients", sa.Column("person_id", sa.Integer(), nullable=True))
    op.add_column("patients", sa.Column("id_number_masked", sa.String(length=18),
                                        nullable=True))
    # Every existing patient is a person of its own (none has a number yet).
    op.execute("""
        ALTER TABLE persons ADD COLUMN seed_patient_id integer;
        INSERT INTO persons (seed_patient_id) SELECT id FROM patients ORDER BY id;
        UPDATE patients AS p SET person_id = pe.id FROM persons AS pe
         WHERE pe.seed_patient_id = p.id;
        ALTER TABLE persons DROP COLUMN seed_patient_id;
    """)
    op.alter_column("patients", "person_id", nullable=False)
    op.create_foreign_key(op.f("fk_patients_person_id_persons"), "patients", "persons",
                          ["person_id"], ["id"])
    op.create_index(op.f("ix_patients_person_id"), "patients", ["person_id"])
    op.create_unique_constraint(op.f("uq_patients_user_id_person_id"), "patients",
                                ["user_id", "person_id"])

    for column, default in (("one_per_department_per_day", "false"),
                            ("require_id_number", "false")):
        op.add_column("booking_policy", sa.Column(column, sa.Boolean(), nullable=False,
                                                  server_default=default))
    op.add_column("booking_policy", sa.Column("max_active_per_person", sa.Integer(),
                                              nullable=True))
    for column, default in (("no_show_limit", "0"), ("no_show_window_days", "90"),
                            ("no_show_suspend_days", "90")):
        op.add_column("booking_policy", sa.Column(column, sa.Integer(), nullable=False,
                                                  server_default=default))
    for name, rule in (("max_active_range", "max_active_per_person BETWEEN 1 AND 100"),
                       ("no_show_limit_range", "no_show_limit BETWEEN 0 AND 100"),
                       ("no_show_window_range", "no_show_window_days BETWEEN 1 AND 365"),
                       ("no_show_suspend_range", "no_show_suspend_days BETWEEN 1 AND 365")):
        op.create_check_constraint(op.f(f"ck_booking_policy_{name}"), "booking_policy", rule)

    op.add_column("registrations", sa.Column("no_show_pardoned", sa.Boolean(), nullable=False,
                                             server_default="false"))
    op.create_table(
        "credit_pardons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("pardoned_by", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("no_shows", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="CASCADE",
                                name=op.f("fk_credit_pardons_person_id_persons")),
        sa.ForeignKeyConstraint(["pardoned_by"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_credit_pardons_pardoned_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_pardons")),
    )
    op.create_index(op.f("ix_credit_pardons_person_id"), "credit_pardons", ["person_id"])

    op.execute(OWN_PERSON)
    op.execute(CREDIT)
    op.execute(PERSON_REFUSAL)
    earlier = op.get_context().script.get_revision("0006").module.BOOK_FUNCTION
    op.execute(book_function(earlier))


def downgrade():
    earlier = op.get_context().script.get_revision("0006").module.BOOK_FUNCTION
    # 0006's text drops 0005's signature first; here the same signature is dropped instead.
    op.execute("DROP FUNCTION book_registration(integer, integer, integer, text, integer, "
               "boolean, timestamp without time zone)")
    op.execute(earlier.split(";", 1)[1])
    op.execute("DROP FUNCTION person_refusal(integer, date, integer, timestamp, boolean, "
               "integer)")
    op.execute("DROP FUNCTION person_no_show_credit(integer, date)")
    op.execute("DROP FUNCTION no_show_suspended_until(bigint, date, integer, integer, date)")
    op.execute("DROP FUNCTION no_show_counts(text, boolean, date, date, integer)")
    op.execute("DROP TRIGGER patients_person ON patients")
    op.execute("DROP FUNCTION patients_own_person()")
    op.drop_index(op.f("ix_credit_pardons_person_id"), table_name="credit_pardons")
    op.drop_table("credit_pardons")
    op.drop_column("registrations", "no_show_pardoned")
    for name in ("max_active_range", "no_show_limit_range", "no_show_window_range",
                 "no_show_suspend_range"):
        op.drop_constraint(op.f(f"ck_booking_policy_{name}"), "booking_policy", type_="check")
    for column in ("one_per_department_per_day", "require_id_number", "max_active_per_person",
                   "no_show_limit", "no_show_window_days", "no_show_suspend_days"):
        op.drop_column("booking_policy", column)
    op.drop_constraint(op.f("uq_patients_user_id_person_id"), "patients", type_="unique")
    op.drop_index(op.f("ix_patients_person_id"), table_name="patients")
    op.drop_constraint(op.f("fk_patients_person_id_persons"), "patients", type_="foreignkey")
    op.drop_column("patients", "id_number_masked")
    op.drop_column("patients", "person_id")
    op.drop_table("persons")
