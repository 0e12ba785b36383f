"""family lead worker since

Revision ID: 7adb4b0225ff
Revises: aee98a215b01
Create Date: 2026-11-25 23:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7adb4b0225ff"
down_revision: str | Sequence[str] | None = "aee98a215b01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # When the event that set a family's lead worker happened, so a late, older event cannot undo
    # a later change. Existing rows start unknown (NULL): the next event sets it.
    op.add_column(
        "families",
        sa.Column("lead_worker_since", sa.DateTime(timezone=True), nullable=True),
        schema="goals",
    )


def downgrade() -> None:
    op.drop_column("families", "lead_worker_since", schema="goals")
