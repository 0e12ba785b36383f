"""goals backbone

Revision ID: 69036535c538
Revises:
Create Date: 2026-11-25 20:13:05.945851
"""

from collections.abc import Sequence

from shared.migration_ops import create_backbone, drop_backbone

revision: str = "69036535c538"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("goals",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_backbone("goals")


def downgrade() -> None:
    drop_backbone("goals")
