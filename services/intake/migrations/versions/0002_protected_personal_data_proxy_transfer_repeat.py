"""protected personal data; proxy, transfer, group, repeat and classification fields

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PERSONAL = ("complainant_name", "complainant_phone", "complainant_id_number")


def _strings(add, *names: str, length: int) -> None:
    for name in names:
        add(sa.Column(name, sa.String(length=length), nullable=False, server_default=""))


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        add = batch_op.add_column
        for name in _PERSONAL:
            batch_op.alter_column(name, type_=sa.Text(), existing_nullable=False)
        _strings(add, "id_hash", "agent_phone_hash", "agent_id_hash", length=64)
        _strings(add, "business_type", "taxonomy_version", "classified_by", length=24)
        _strings(add, "issue", "agent_relationship", length=40)
        _strings(add, "agent_authorization_ref", "regulator_reference", length=64)
        _strings(add, "regulator", length=100)
        _strings(add, "repeat_of", length=24)
        for name in ("agent_name", "agent_id_number", "agent_phone"):
            add(sa.Column(name, sa.Text(), nullable=False, server_default=""))
        add(sa.Column("regulator_received_at", sa.DateTime(timezone=True), nullable=True))
        add(sa.Column("people_count", sa.Integer(), nullable=False, server_default="1"))
        add(sa.Column("major", sa.Boolean(), nullable=False, server_default=sa.false()))
        add(sa.Column("new_facts", sa.Boolean(), nullable=False, server_default=sa.false()))
        for name in ("id_hash", "agent_phone_hash", "agent_id_hash", "repeat_of"):
            batch_op.create_index(batch_op.f(f"ix_case_{name}"), [name], unique=False)

    op.create_table(
        "lookup_attempt",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lookup_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lookup_attempt_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_lookup_attempt_at"), ["at"], unique=False)

    # Personal data already stored in clear is encrypted in place, with the key in force now.
    from services.common import pii

    conn = op.get_bind()
    case = sa.table("case", sa.column("id"), *(sa.column(n) for n in _PERSONAL))
    for row in conn.execute(sa.select(case)).mappings().all():
        values = {n: pii.encrypt(row[n]) if row[n] else "" for n in _PERSONAL}
        conn.execute(sa.update(case).where(case.c.id == row["id"]).values(**values))


def downgrade() -> None:
    from services.common import pii

    conn = op.get_bind()
    case = sa.table("case", sa.column("id"), *(sa.column(n) for n in _PERSONAL))
    for row in conn.execute(sa.select(case)).mappings().all():
        values = {n: pii.decrypt(row[n]) if row[n] else "" for n in _PERSONAL}
        conn.execute(sa.update(case).where(case.c.id == row["id"]).values(**values))

    with op.batch_alter_table("lookup_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lookup_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_lookup_attempt_key"))
    op.drop_table("lookup_attempt")
    with op.batch_alter_table("case", schema=None) as batch_op:
        for name in ("id_hash", "agent_phone_hash", "agent_id_hash", "repeat_of"):
            batch_op.drop_index(batch_op.f(f"ix_case_{name}"))
        for name in (
            "id_hash",
            "agent_phone_hash",
            "agent_id_hash",
            "business_type",
            "taxonomy_version",
            "classified_by",
            "issue",
            "agent_relationship",
            "agent_authorization_ref",
            "regulator_reference",
            "regulator",
            "repeat_of",
            "agent_name",
            "agent_id_number",
            "agent_phone",
            "regulator_received_at",
            "people_count",
            "major",
            "new_facts",
        ):
            batch_op.drop_column(name)
        batch_op.alter_column("complainant_name", type_=sa.String(length=100))
        batch_op.alter_column("complainant_phone", type_=sa.String(length=32))
        batch_op.alter_column("complainant_id_number", type_=sa.String(length=18))
