"""The initial schema: flows, runs, task runs, tries, events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from weir.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("path", sa.Text()),
        sa.Column("module", sa.String(300)),
        sa.Column("description", sa.Text()),
        sa.Column("graph", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("flow_name", sa.String(200), nullable=False),
        sa.Column("flow_version", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("executor", sa.String(20)),
        sa.Column("run_key", sa.String(300), unique=True),
        sa.Column("logical_date", UTCDateTime()),
        sa.Column("interval_start", UTCDateTime()),
        sa.Column("interval_end", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime()),
        sa.Column("reason", sa.Text()),
        sa.Column("result_data", sa.LargeBinary()),
        sa.Column("result_path", sa.Text()),
    )
    op.create_index("ix_runs_flow_created", "runs", ["flow_name", "created_at"])
    op.create_index("ix_runs_state", "runs", ["state"])
    op.create_table(
        "task_runs",
        sa.Column("run_id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.String(200), primary_key=True),
        sa.Column("map_index", sa.Integer(), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("max_tries", sa.Integer(), nullable=False),
        sa.Column("map_count", sa.Integer()),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime()),
    )
    op.create_table(
        "tries",
        sa.Column("run_id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.String(200), primary_key=True),
        sa.Column("map_index", sa.Integer(), primary_key=True),
        sa.Column("number", sa.Integer(), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime()),
        sa.Column("error", sa.Text()),
        sa.Column("traceback", sa.Text()),
        sa.Column("log_path", sa.Text()),
        sa.Column("worker", sa.String(100)),
        sa.Column("result_data", sa.LargeBinary()),
        sa.Column("result_path", sa.Text()),
        sa.Column("result_size", sa.BigInteger()),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(200)),
        sa.Column("map_index", sa.Integer()),
        sa.Column("from_state", sa.String(20)),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text()),
    )
    op.create_index("ix_events_run", "events", ["run_id", "id"])


def downgrade() -> None:
    for table in ("events", "tries", "task_runs", "runs", "flows"):
        op.drop_table(table)
