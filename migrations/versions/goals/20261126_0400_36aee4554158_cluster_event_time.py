"""cluster event time

Revision ID: 36aee4554158
Revises: 6d2c1f8e3b52
Create Date: 2026-11-26 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "36aee4554158"
down_revision: str | Sequence[str] | None = "6d2c1f8e3b52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # When the cluster.upserted event that set a cluster happened, so a late, older event cannot
    # put an old RES start back. Existing rows start unknown (NULL): the next event sets it.
    op.add_column(
        "clusters", sa.Column("event_occurred_at", sa.DateTime(timezone=True), nullable=True), schema="goals"
    )


def downgrade() -> None:
    op.drop_column("clusters", "event_occurred_at", schema="goals")
