"""goal review due date

Revision ID: aee98a215b01
Revises: bb674cd71cd9
Create Date: 2026-11-25 22:50:31.683614
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "aee98a215b01"
down_revision: str | Sequence[str] | None = "bb674cd71cd9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # When a goal's next review is due (latest score or baseline + the plan's review frequency),
    # so the overdue-review list can page through active goals on an index.
    op.add_column("goals", sa.Column("review_due_on", sa.Date(), nullable=True), schema="goals")
    op.execute(
        "UPDATE goals.goals AS g"
        " SET review_due_on = coalesce(g.latest_scored_on, g.baseline_on) + p.review_every_days"
        " FROM goals.plans AS p WHERE p.id = g.plan_id"
    )
    op.alter_column("goals", "review_due_on", nullable=False, schema="goals")
    op.create_index(
        "ix_goals_active_review_due",
        "goals",
        ["review_due_on", "id"],
        unique=False,
        schema="goals",
        postgresql_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_goals_active_review_due",
        table_name="goals",
        schema="goals",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_column("goals", "review_due_on", schema="goals")
