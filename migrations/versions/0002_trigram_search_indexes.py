"""Trigram (pg_trgm) GIN indexes for the case-insensitive substring searches.

ILIKE '%text%' cannot use a B-tree index; a GIN index with gin_trgm_ops can, for patterns
of three or more characters. These cover the large tables' searched columns: registration
notes, patient names and phone numbers, and usernames and phone numbers of accounts. The
catalogue tables (departments, doctors) are small enough to scan.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_registrations_notes_trgm", "registrations", "notes"),
    ("ix_patients_name_trgm", "patients", "name"),
    ("ix_patients_phone_number_trgm", "patients", "phone_number"),
    ("ix_users_username_trgm", "users", "username"),
    ("ix_users_phone_number_trgm", "users", "phone_number"),
)


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        op.create_index(name, table, [column], postgresql_using="gin",
                        postgresql_ops={column: "gin_trgm_ops"})


def downgrade():
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
