"""Owners: every job and saved style belongs to someone; API keys; share links.

Jobs made before owners existed belong to ``local`` (the machine's own user: the CLI, and keyless
scripts on 127.0.0.1), so an upgraded installation keeps its history where it was; styles saved
before were in the one gallery every visitor saw, so they stay there (``public``, the admin's).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table, default in (("jobs", "local"), ("saved_styles", "public")):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner", sa.String(64), nullable=False, server_default=default))
            batch.create_index(f"ix_{table}_owner", ["owner"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False, unique=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "shares",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("include_photo", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_shares_job_id", "shares", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_shares_job_id", "shares")
    op.drop_table("shares")
    op.drop_table("api_keys")
    for table in ("saved_styles", "jobs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_owner")
            batch.drop_column("owner")
