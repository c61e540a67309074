"""Webhook deliveries: what is owed to WEBHOOK_URL, and how each delivery went.

* webhook_cursor: one row, the last event id queued for delivery (taken from the feed, so
  up to its horizon: no event committed late is skipped).
* webhook_deliveries: one row per queued event, with its ordering key (the registration, or
  0 for events of no registration), attempts, the next attempt's time, a lease (who is
  delivering it, until when) and the outcome.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "webhook_cursor",
        sa.Column("id", sa.SmallInteger(), nullable=False, server_default="1"),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_webhook_cursor_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_cursor")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("order_key", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("leased_by", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE",
                                name=op.f("fk_webhook_deliveries_event_id_events")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_pending", "webhook_deliveries",
                    ["order_key", "event_id"],
                    postgresql_where=sa.text("delivered_at IS NULL"))


def downgrade():
    op.drop_index("ix_webhook_deliveries_pending", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_cursor")
