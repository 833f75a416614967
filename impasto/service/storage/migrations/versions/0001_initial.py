"""Jobs, their progress events, and saved gallery styles.

Revision ID: 0001
Revises:
Create Date: 2026-11-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("content_sha", sa.String(64), nullable=False),
        sa.Column("content_name", sa.String(200), nullable=False),
        sa.Column("style_sha", sa.String(64)),
        sa.Column("style_name", sa.String(100), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("result_sha", sa.String(64)),
        sa.Column("result_width", sa.Integer()),
        sa.Column("result_height", sa.Integer()),
        sa.Column("preview_sha", sa.String(64)),
        sa.Column("stage", sa.String(100), nullable=False),
        sa.Column("fraction", sa.Float(), nullable=False),
        sa.Column("eta", sa.Float()),
        sa.Column("error", sa.Text()),
        sa.Column("rating", sa.Integer()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("parent_id", sa.String(32)),
    )
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_index("ix_jobs_style_name", "jobs", ["style_name"])
    op.create_index("ix_jobs_rating", "jobs", ["rating"])
    op.create_table(
        "job_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_job_events_job_id_id", "job_events", ["job_id", "id"])
    op.create_table(
        "saved_styles",
        sa.Column("name", sa.String(60), primary_key=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("saved_styles")
    op.drop_index("ix_job_events_job_id_id", table_name="job_events")
    op.drop_table("job_events")
    for name in ("rating", "style_name", "status", "created_at"):
        op.drop_index(f"ix_jobs_{name}", table_name="jobs")
    op.drop_table("jobs")
