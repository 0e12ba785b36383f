"""formulation backbone

Revision ID: a432e293ef1c
Revises:
Create Date: 2026-11-25 20:12:48.633597
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.migration_ops import create_backbone, drop_backbone

revision: str = "a432e293ef1c"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("formulation",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_backbone("formulation")
    op.create_table(
        "clusters",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("res_start", sa.Date(), nullable=True),
        sa.Column("co_located", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_clusters")),
        schema="formulation",
    )


def downgrade() -> None:
    op.drop_table("clusters", schema="formulation")
    drop_backbone("formulation")
