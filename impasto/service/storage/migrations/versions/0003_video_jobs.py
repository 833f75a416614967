"""Video jobs: a job's kind, and its uploaded and painted clips.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="image"))
        batch.add_column(sa.Column("source_sha", sa.String(64)))
        batch.add_column(sa.Column("video_sha", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("video_sha")
        batch.drop_column("source_sha")
        batch.drop_column("kind")
