"""What the admin search needs to count a million registrations exactly, fast.

POST /registrations/search answers the exact number of matches (the list envelope's
`count`). Counting hundreds of thousands of matching rows took 0.5-1.3 s; the database now
keeps the counts of the broad branches instead, in the writing transaction.

* registration_term_counts: per schedule, how many registrations carry each term: '' (every
  one), their status ('completed'), and each distinct character of their patient's
  lowercased name ('王'). Its primary key (term, schedule_id) INCLUDE (n) is the only index:
  every sum the search makes is a range of it, read without the table — the status word's
  rows, the '' rows of a matching doctor's or department's schedules, and for a
  one-character query the character's rows of the other schedules (one- and two-character
  queries are what pg_trgm cannot serve).
* Kept by triggers in the changing transaction: statement-level ones for INSERT and DELETE
  (one grouped upsert per statement, so the seeder's COPY and a cascaded delete cost one
  statement each), a row-level one for a change of status, schedule or patient, and two on
  patients, for a rename and a delete. All are ENABLE ALWAYS: the seeder's bulk load runs
  with session_replication_role = replica, which skips ordinary triggers.
* No new hot row: a counter row belongs to one schedule, and a booking or a cancel already
  holds that schedule's row lock. Every statement changes its rows in (schedule_id, term)
  order, so two writers never wait on each other crosswise.
* A rename recounts the patient's registrations, so it must not miss one being written:
  whoever writes a registration reads its patient's name FOR KEY SHARE (a booking's foreign
  key check takes that lock anyway), and the rename takes the patient row FOR UPDATE before
  it recounts, so each waits for the other. The rename then needs nothing but counter rows,
  never a schedule row a booking may hold while it waits for the patient: hence no foreign
  key from the counters to schedules (its check locks the schedule row). A deleted
  schedule's registrations are deleted by cascade, which counts its rows down to zero, and
  a delete removes the rows it counts down to zero.
* No CHECK (n >= 0): INSERT ... ON CONFLICT checks constraints on the proposed row, so a
  decrement (a proposed row of -1) could not be an upsert. The suite compares every counter
  with its rows instead, after concurrent writes too; recount_registration_terms() rebuilds
  them all.
* ix_patients_name_chars and ix_registrations_notes_chars: GIN indexes on the characters of
  the lowercased text, for queries of one or two characters.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FUNCTIONS = """
-- The distinct characters of a lowercased name (none for NULL).
CREATE FUNCTION name_characters(p_name text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT DISTINCT c FROM unnest(string_to_array(lower(p_name), NULL)) AS c
$$;

-- The terms one registration counts under: '' (every registration), its status, and the
-- characters of its patient's name.
CREATE FUNCTION registration_terms(p_status text, p_patient_name text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ''
    UNION ALL SELECT p_status
    UNION ALL SELECT c FROM name_characters(p_patient_name) AS c
$$;

-- INSERT and DELETE, once per statement. A deleted registration whose patient is gone (a
-- cascade from patients) has had its characters uncounted by patients_terms_delete.
CREATE FUNCTION registrations_count_terms() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_terms text[];
    v_schedules integer[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH names AS (
            SELECT p.id, p.name FROM patients AS p
             WHERE p.id = ANY (ARRAY(SELECT patient_id FROM new_rows))
               FOR KEY SHARE)
        INSERT INTO registration_term_counts AS c (schedule_id, term, n)
        SELECT r.schedule_id, t.term, count(*)
          FROM new_rows AS r
          LEFT JOIN names ON names.id = r.patient_id
         CROSS JOIN LATERAL (SELECT '' UNION ALL SELECT r.status UNION ALL
                             SELECT DISTINCT c FROM unnest(string_to_array(lower(names.name),
                                                                           NULL)) AS c
                            ) AS t (term)
         GROUP BY 1, 2
         ORDER BY 1, 2
        ON CONFLICT (schedule_id, term) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        WITH names AS (
            SELECT p.id, p.name FROM patients AS p
             WHERE p.id = ANY (ARRAY(SELECT patient_id FROM old_rows))
               FOR KEY SHARE),
        counted AS (
            INSERT INTO registration_term_counts AS c (schedule_id, term, n)
            SELECT r.schedule_id, t.term, -count(*)
              FROM old_rows AS r
              LEFT JOIN names ON names.id = r.patient_id
             CROSS JOIN LATERAL (SELECT '' UNION ALL SELECT r.status UNION ALL
                                 SELECT DISTINCT c
                                   FROM unnest(string_to_array(lower(names.name), NULL)) AS c
                                ) AS t (term)
             GROUP BY 1, 2
             ORDER BY 1, 2
            ON CONFLICT (schedule_id, term) DO UPDATE SET n = c.n + EXCLUDED.n
            RETURNING c.term, c.schedule_id, c.n)
        SELECT array_agg(term), array_agg(schedule_id) INTO v_terms, v_schedules
          FROM counted WHERE n = 0;
        -- Counted down to nothing (a deleted schedule's, above all): the row goes.
        IF v_terms IS NOT NULL THEN
            DELETE FROM registration_term_counts AS c
             USING unnest(v_terms, v_schedules) AS z (term, schedule_id)
             WHERE c.term = z.term AND c.schedule_id = z.schedule_id AND c.n = 0;
        END IF;
    END IF;
    RETURN NULL;
END $$;

-- A change of status (the usual case: two rows of one schedule), or a move to another
-- schedule or patient (every term, out of the old place and into the new one).
CREATE FUNCTION registrations_recount_terms() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_name text;
    new_name text;
BEGIN
    IF OLD.schedule_id = NEW.schedule_id AND OLD.patient_id = NEW.patient_id THEN
        INSERT INTO registration_term_counts AS c (schedule_id, term, n)
        SELECT NEW.schedule_id, d.term, d.n
          FROM (VALUES (OLD.status::text, -1), (NEW.status::text, 1)) AS d (term, n)
         ORDER BY d.term
        ON CONFLICT (schedule_id, term) DO UPDATE SET n = c.n + EXCLUDED.n;
        RETURN NULL;
    END IF;
    SELECT name INTO old_name FROM patients WHERE id = OLD.patient_id FOR KEY SHARE;
    SELECT name INTO new_name FROM patients WHERE id = NEW.patient_id FOR KEY SHARE;
    INSERT INTO registration_term_counts AS c (schedule_id, term, n)
    SELECT d.schedule_id, d.term, sum(d.n)
      FROM (SELECT OLD.schedule_id AS schedule_id, t.term, -1 AS n
              FROM registration_terms(OLD.status, old_name) AS t (term)
            UNION ALL
            SELECT NEW.schedule_id, t.term, 1
              FROM registration_terms(NEW.status, new_name) AS t (term)) AS d
     GROUP BY 1, 2
    HAVING sum(d.n) <> 0
     ORDER BY 1, 2
    ON CONFLICT (schedule_id, term) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

-- A patient renamed (AFTER UPDATE) or deleted (BEFORE DELETE, while its registrations are
-- still there to be found): the characters that leave or join its name, per schedule.
CREATE FUNCTION patients_recount_terms() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_patient integer := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
    v_new_name text := CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.name END;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- Wait for the writers of this patient's registrations (they hold the row FOR KEY
        -- SHARE) and keep new ones out: the registrations counted next are all there are.
        -- A DELETE holds this lock already.
        PERFORM FROM patients WHERE id = v_patient FOR UPDATE;
    END IF;
    INSERT INTO registration_term_counts AS c (schedule_id, term, n)
    SELECT r.schedule_id, d.term, count(*) * d.n
      FROM registrations AS r
     CROSS JOIN (SELECT term, -1 AS n
                   FROM (SELECT name_characters(OLD.name)
                         EXCEPT SELECT name_characters(v_new_name)) AS gone (term)
                 UNION ALL
                 SELECT term, 1
                   FROM (SELECT name_characters(v_new_name)
                         EXCEPT SELECT name_characters(OLD.name)) AS came (term)) AS d
     WHERE r.patient_id = v_patient
     GROUP BY r.schedule_id, d.term, d.n
     ORDER BY 1, 2
    ON CONFLICT (schedule_id, term) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NULL END;
END $$;

CREATE FUNCTION registrations_truncate_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM registration_term_counts;
    RETURN NULL;
END $$;

-- Every counter from the rows (the migration's fill; also a repair tool).
CREATE FUNCTION recount_registration_terms() RETURNS void LANGUAGE sql AS $$
    DELETE FROM registration_term_counts;
    INSERT INTO registration_term_counts (schedule_id, term, n)
    SELECT r.schedule_id, t.term, count(*)
      FROM registrations AS r
      JOIN patients AS p ON p.id = r.patient_id
     CROSS JOIN LATERAL registration_terms(r.status, p.name) AS t (term)
     GROUP BY 1, 2;
$$;
"""

TRIGGERS = (
    ("registrations", "registrations_terms_insert", "AFTER INSERT",
     "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
     "registrations_count_terms()"),
    ("registrations", "registrations_terms_delete", "AFTER DELETE",
     "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT",
     "registrations_count_terms()"),
    ("registrations", "registrations_terms_update",
     "AFTER UPDATE OF status, schedule_id, patient_id",
     "FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status"
     " OR OLD.schedule_id <> NEW.schedule_id OR OLD.patient_id <> NEW.patient_id)",
     "registrations_recount_terms()"),
    ("registrations", "registrations_terms_truncate", "AFTER TRUNCATE",
     "FOR EACH STATEMENT", "registrations_truncate_terms()"),
    ("patients", "patients_terms_rename", "AFTER UPDATE OF name",
     "FOR EACH ROW WHEN (lower(OLD.name) IS DISTINCT FROM lower(NEW.name))",
     "patients_recount_terms()"),
    ("patients", "patients_terms_delete", "BEFORE DELETE", "FOR EACH ROW",
     "patients_recount_terms()"),
)

DROP_FUNCTIONS = """
DROP FUNCTION recount_registration_terms();
DROP FUNCTION registrations_truncate_terms();
DROP FUNCTION patients_recount_terms();
DROP FUNCTION registrations_recount_terms();
DROP FUNCTION registrations_count_terms();
DROP FUNCTION registration_terms(text, text);
DROP FUNCTION name_characters(text);
"""

CHARACTERS = "string_to_array(lower({}), NULL)"


def upgrade():
    op.create_table(
        "registration_term_counts",
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        # Term first and the count included: every sum reads this index only.
        sa.PrimaryKeyConstraint("term", "schedule_id", name=op.f("pk_registration_term_counts"),
                                postgresql_include=["n"]),
    )
    op.execute(FUNCTIONS)
    op.execute("SET LOCAL statement_timeout = 0")
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.execute("SELECT recount_registration_terms()")
    for name, table, (column,) in (("ix_patients_name_chars", "patients", ("name",)),
                                   ("ix_registrations_notes_chars", "registrations",
                                    ("notes",))):
        op.create_index(name, table, [sa.text(CHARACTERS.format(column))],
                        postgresql_using="gin")
    for table, name, when, each, function in TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {when} ON {table} {each} "
                   f"EXECUTE FUNCTION {function}")
        # Also under session_replication_role = replica (the seeder's bulk load).
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")
    # Statistics for the new expression indexes too: without them the planner takes a
    # common character for a rare one.
    op.execute("ANALYZE registration_term_counts, patients, registrations")


def downgrade():
    for table, name, *_ in reversed(TRIGGERS):
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.drop_index("ix_registrations_notes_chars", table_name="registrations")
    op.drop_index("ix_patients_name_chars", table_name="patients")
    op.drop_table("registration_term_counts")
    op.execute(DROP_FUNCTIONS)
