"""Scheduling: per-flow schedule state, flow files and their errors, events received.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from weir.store.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_state",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("path", sa.Text()),
        sa.Column("schedule", sa.JSON()),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("last_fire", UTCDateTime()),
        sa.Column("next_fire", UTCDateTime()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "flow_files",
        sa.Column("path", sa.Text(), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("flows", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("loaded_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "events_in",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON()),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_runs_queued_owner", "runs", ["state", "owner"])


def downgrade() -> None:
    op.drop_index("ix_runs_queued_owner", "runs")
    for table in ("events_in", "flow_files", "flow_state"):
        op.drop_table(table)
