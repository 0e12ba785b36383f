"""metrics res closed index

Revision ID: b7e3d91c4a60
Revises: 690787b1a0f5
Create Date: 2026-11-26 02:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e3d91c4a60"
down_revision: str | Sequence[str] | None = "690787b1a0f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Sustained outcomes scanned every service record for the closed RES plans of a window; only
    # those are indexed, so imports of statutory records pay nothing.
    op.create_index(
        "ix_service_records_res_closed",
        "service_records",
        ["occurred_on"],
        unique=False,
        schema="metrics",
        postgresql_include=["cluster_code", "child_ref"],
        postgresql_where=sa.text("type = 'res_plan_closed'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_service_records_res_closed",
        table_name="service_records",
        schema="metrics",
        postgresql_where=sa.text("type = 'res_plan_closed'"),
    )
