"""The models describe exactly the schema the migrations build (nothing for autogenerate)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db
from app.models import Base

# Kept by the database for itself, with no model (see migrations/env.py).
DATABASE_ONLY_TABLES = {"cache_generations"}


def _include(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "table" and reflected and name in DATABASE_ONLY_TABLES)


def test_models_match_the_migrated_schema(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": _include})
        assert compare_metadata(context, Base.metadata) == []
