"""plan closed_by and family_closed_on

Revision ID: 7253185ea282
Revises: 2104425ff586
Create Date: 2026-11-25 20:55:54.295115
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7253185ea282"
down_revision: str | Sequence[str] | None = "2104425ff586"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Who closed a plan (a worker, or the family.closed event) and when the family's case closed.
    op.add_column("plans", sa.Column("closed_by", sa.String(length=64), nullable=True), schema="goals")
    op.add_column("plans", sa.Column("family_closed_on", sa.Date(), nullable=True), schema="goals")


def downgrade() -> None:
    op.drop_column("plans", "family_closed_on", schema="goals")
    op.drop_column("plans", "closed_by", schema="goals")
