"""idempotency replay scope: the token's fingerprint and the audited resources

Revision ID: ac71e4166732
Revises: b7e3d91c4a60
Create Date: 2026-11-26 02:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ac71e4166732"
down_revision: str | Sequence[str] | None = "b7e3d91c4a60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Keys stored before this have no fingerprint, so they match no token and are not replayed
    # (they expire within 24 hours anyway).
    op.add_column(
        "idempotency_keys",
        sa.Column(
            "principal_fingerprint", sa.String(length=64), server_default=sa.text("''"), nullable=False
        ),
        schema="metrics",
    )
    op.add_column(
        "idempotency_keys",
        sa.Column(
            "audited",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        schema="metrics",
    )


def downgrade() -> None:
    op.drop_column("idempotency_keys", "audited", schema="metrics")
    op.drop_column("idempotency_keys", "principal_fingerprint", schema="metrics")
