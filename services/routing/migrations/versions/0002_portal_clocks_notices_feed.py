"""portal clocks, notices, feed and directory version

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 05:44:50.817023
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Columns added to tables that may already hold rows need a server default.
_FALSE = sa.false()


def upgrade() -> None:
    op.create_table(
        "clock_notice",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_no", sa.String(length=24), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("period_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("limit_days", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("clock_name", sa.String(length=40), nullable=False),
        sa.Column("escalated_to", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_no", "node_id", "period_started_at", "limit_days", "stage"),
    )
    with op.batch_alter_table("clock_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clock_notice_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_clock_notice_node_id"), ["node_id"], unique=False)

    directory_version = op.create_table(
        "directory_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    feed_counter = op.create_table(
        "feed_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(directory_version, [{"id": 1, "version": 1, "source": ""}])
    op.bulk_insert(feed_counter, [{"id": 1, "value": 0}])

    with op.batch_alter_table("assignment", schema=None) as batch_op:
        add = batch_op.add_column
        add(sa.Column("relief_amount_fen", sa.BigInteger(), nullable=False, server_default="0"))
        add(sa.Column("contact", sa.JSON(), nullable=False, server_default="{}"))
        add(sa.Column("clock_name", sa.String(length=40), nullable=False, server_default=""))
        add(sa.Column("clock_events", sa.JSON(), nullable=False, server_default="[]"))
        add(sa.Column("limit_days", sa.Integer(), nullable=False, server_default="0"))
        add(sa.Column("clock_started_at", sa.DateTime(timezone=True), nullable=True))
        add(sa.Column("paused", sa.Boolean(), nullable=False, server_default=_FALSE))
        add(sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True))
        add(sa.Column("major", sa.Boolean(), nullable=False, server_default=_FALSE))
        add(sa.Column("elderly", sa.Boolean(), nullable=False, server_default=_FALSE))
        add(sa.Column("repeat", sa.Boolean(), nullable=False, server_default=_FALSE))
        add(sa.Column("tier_reason", sa.String(length=400), nullable=False, server_default=""))
        add(
            sa.Column(
                "escalated_to_node_id", sa.String(length=64), nullable=False, server_default=""
            )
        )
        add(sa.Column("returns", sa.Integer(), nullable=False, server_default="0"))
        add(sa.Column("route_history", sa.JSON(), nullable=False, server_default="[]"))
        add(sa.Column("queue_reason", sa.String(length=200), nullable=False, server_default=""))
        add(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        add(sa.Column("feed_seq", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_assignment_feed_seq"), ["feed_seq"], unique=False)
        batch_op.create_index("ix_assignment_node_feed", ["node_id", "feed_seq"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_assignment_next_check_at"), ["next_check_at"], unique=False
        )

    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("short_names", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("former_names", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.drop_column("former_names")
        batch_op.drop_column("short_names")

    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignment_next_check_at"))
        batch_op.drop_index(batch_op.f("ix_assignment_feed_seq"))
        batch_op.drop_index("ix_assignment_node_feed")
        for column in (
            "feed_seq",
            "updated_at",
            "queue_reason",
            "route_history",
            "returns",
            "escalated_to_node_id",
            "tier_reason",
            "repeat",
            "elderly",
            "major",
            "next_check_at",
            "paused",
            "clock_started_at",
            "limit_days",
            "clock_events",
            "clock_name",
            "contact",
            "relief_amount_fen",
        ):
            batch_op.drop_column(column)

    op.drop_table("feed_counter")
    op.drop_table("directory_version")
    with op.batch_alter_table("clock_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clock_notice_node_id"))
        batch_op.drop_index(batch_op.f("ix_clock_notice_at"))
    op.drop_table("clock_notice")
