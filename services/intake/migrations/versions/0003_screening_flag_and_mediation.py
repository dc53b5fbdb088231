"""screening flag from blacklist clues; the status a case returns to after mediation

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("screening_flagged", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("screening_clue_id", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("screening_note", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column(
                "status_before_mediation", sa.String(length=24), nullable=False, server_default=""
            )
        )
        batch_op.create_index("ix_case_screening_flagged", ["screening_flagged"])


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_screening_flagged")
        for name in (
            "status_before_mediation",
            "screening_note",
            "screening_clue_id",
            "screening_flagged",
        ):
            batch_op.drop_column(name)
