"""metrics backbone

Revision ID: 54572e701f55
Revises:
Create Date: 2026-11-25 20:13:07.904795
"""

from collections.abc import Sequence

from shared.migration_ops import create_backbone, drop_backbone

revision: str = "54572e701f55"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("metrics",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_backbone("metrics")


def downgrade() -> None:
    drop_backbone("metrics")
