"""family event times

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
    # When the events that set a family's lead worker and its open/closed state happened, so a
    # late, older event cannot undo a later change. Existing rows start unknown (NULL): the next
    # event sets them.
    for column in ("lead_worker_since", "status_since"):
        op.add_column(
            "families", sa.Column(column, sa.DateTime(timezone=True), nullable=True), schema="goals"
        )


def downgrade() -> None:
    for column in ("status_since", "lead_worker_since"):
        op.drop_column("families", column, schema="goals")
