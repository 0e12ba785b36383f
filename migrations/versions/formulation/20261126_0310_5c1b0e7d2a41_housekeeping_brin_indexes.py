"""housekeeping BRIN indexes: old outbox rows, processed-event ids and idempotency keys

Revision ID: 5c1b0e7d2a41
Revises: db71cd37aa3e
Create Date: 2026-11-26 03:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5c1b0e7d2a41"
down_revision: str | Sequence[str] | None = "db71cd37aa3e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("ix_outbox_occurred_brin", "outbox", "occurred_at"),
    ("ix_processed_events_processed_brin", "processed_events", "processed_at"),
    ("ix_idempotency_keys_created_brin", "idempotency_keys", "created_at"),
)


def upgrade() -> None:
    for name, table, column in _INDEXES:
        op.create_index(name, table, [column], unique=False, schema="formulation", postgresql_using="brin")


def downgrade() -> None:
    for name, table, _column in reversed(_INDEXES):
        op.drop_index(name, table_name=table, schema="formulation", postgresql_using="brin")
