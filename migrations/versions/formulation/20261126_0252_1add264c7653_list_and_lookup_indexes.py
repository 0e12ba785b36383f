"""list and lookup indexes

Referrals are listed in (created_at, id) order; formulations are looked up by facilitator (access
scoping); reflections by supervision session and by formulation.

Revision ID: 1add264c7653
Revises: a3e9390352c0
Create Date: 2026-11-26 02:52:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1add264c7653"
down_revision: str | Sequence[str] | None = "a3e9390352c0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_formulation_referrals_created_at"),
        "referrals",
        ["created_at", "id"],
        unique=False,
        schema="formulation",
    )
    op.create_index(
        op.f("ix_formulation_formulations_facilitator_sub"),
        "formulations",
        ["facilitator_sub"],
        unique=False,
        schema="formulation",
    )
    op.create_index(
        op.f("ix_formulation_reflections_supervision_id"),
        "reflections",
        ["supervision_id"],
        unique=False,
        schema="formulation",
    )
    op.create_index(
        op.f("ix_formulation_reflections_formulation_id"),
        "reflections",
        ["formulation_id"],
        unique=False,
        schema="formulation",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_formulation_reflections_formulation_id"), table_name="reflections", schema="formulation"
    )
    op.drop_index(
        op.f("ix_formulation_reflections_supervision_id"), table_name="reflections", schema="formulation"
    )
    op.drop_index(
        op.f("ix_formulation_formulations_facilitator_sub"), table_name="formulations", schema="formulation"
    )
    op.drop_index(op.f("ix_formulation_referrals_created_at"), table_name="referrals", schema="formulation")
