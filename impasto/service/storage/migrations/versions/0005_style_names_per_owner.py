"""Style names per owner: a saved style is known by (owner, name), so one owner's private name never
tells another owner anything (saving the same name answers the same as a free one).

The table is rebuilt with the composite primary key (the same on SQLite and PostgreSQL) and every
row copied over; names were unique across owners before, so no two rows collide.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = "owner, name, title, sha, created_at"


def _table(name: str, key: list[str]) -> None:
    op.create_table(
        name,
        sa.Column("owner", sa.String(64), nullable=False, server_default="public"),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*key, name=f"pk_saved_styles_{'_'.join(key)}"),
    )


def _move(key: list[str]) -> None:
    _table("saved_styles_moved", key)
    op.execute(f"INSERT INTO saved_styles_moved ({COLUMNS}) SELECT {COLUMNS} FROM saved_styles")
    op.drop_index("ix_saved_styles_owner", table_name="saved_styles")
    op.drop_table("saved_styles")
    op.rename_table("saved_styles_moved", "saved_styles")
    op.create_index("ix_saved_styles_owner", "saved_styles", ["owner"])


def upgrade() -> None:
    _move(["owner", "name"])


def downgrade() -> None:  # fails if two owners now share a name, as it must: that cannot go back
    _move(["name"])
