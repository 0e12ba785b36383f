"""housekeeping BRIN indexes: old outbox rows, processed-event ids and idempotency keys

Revision ID: 7e3d2a9f4c63
Revises: ac71e4166732
Create Date: 2026-11-26 03:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7e3d2a9f4c63"
down_revision: str | Sequence[str] | None = "ac71e4166732"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("ix_outbox_occurred_brin", "outbox", "occurred_at"),
    ("ix_processed_events_processed_brin", "processed_events", "processed_at"),
    ("ix_idempotency_keys_created_brin", "idempotency_keys", "created_at"),
)


def upgrade() -> None:
    for name, table, column in _INDEXES:
        op.create_index(name, table, [column], unique=False, schema="metrics", postgresql_using="brin")


def downgrade() -> None:
    for name, table, _column in reversed(_INDEXES):
        op.drop_index(name, table_name=table, schema="metrics", postgresql_using="brin")
