"""Foundations: flow snapshots, leases with fencing tokens, pools, tags, notes, result digests, audit.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from weir.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flows") as batch:
        batch.add_column(sa.Column("snapshot", sa.JSON()))
        batch.add_column(sa.Column("code_kind", sa.String(20)))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("fence", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("task_runs") as batch:
        batch.add_column(sa.Column("pool", sa.String(100)))
        batch.add_column(sa.Column("note", sa.Text()))
        batch.add_column(sa.Column("cache_key", sa.String(64)))
        batch.add_column(sa.Column("interruptions", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_task_runs_pool_state", "task_runs", ["pool", "state"])
    with op.batch_alter_table("tries") as batch:
        batch.add_column(sa.Column("result_digest", sa.String(64)))
    with op.batch_alter_table("cache") as batch:
        batch.add_column(sa.Column("result_digest", sa.String(64)))
    with op.batch_alter_table("owners") as batch:
        batch.add_column(sa.Column("lease_expires_at", UTCDateTime()))
    with op.batch_alter_table("flow_files") as batch:
        batch.add_column(sa.Column("shadowed", sa.JSON()))
    op.create_table(
        "flow_tags",
        sa.Column("flow_name", sa.String(200), primary_key=True),
        sa.Column("tag", sa.String(200), primary_key=True),
    )
    op.create_index("ix_flow_tags_tag", "flow_tags", ["tag"])
    op.create_table(
        "pools",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("via", sa.String(20), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("detail", sa.JSON()),
    )
    op.create_index("ix_audit_target", "audit", ["target", "id"])
    op.create_index("ix_audit_action", "audit", ["action", "id"])
    op.create_table(
        "callback_calls",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(200)),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("log_key", sa.Text()),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_callback_calls_run", "callback_calls", ["run_id", "id"])
    op.create_index("ix_callback_calls_ok", "callback_calls", ["ok", "id"])


def downgrade() -> None:
    op.drop_index("ix_callback_calls_ok", "callback_calls")
    op.drop_index("ix_callback_calls_run", "callback_calls")
    op.drop_table("callback_calls")
    op.drop_index("ix_audit_action", "audit")
    op.drop_index("ix_audit_target", "audit")
    op.drop_table("audit")
    op.drop_table("pools")
    op.drop_index("ix_flow_tags_tag", "flow_tags")
    op.drop_table("flow_tags")
    with op.batch_alter_table("flow_files") as batch:
        batch.drop_column("shadowed")
    with op.batch_alter_table("owners") as batch:
        batch.drop_column("lease_expires_at")
    with op.batch_alter_table("cache") as batch:
        batch.drop_column("result_digest")
    with op.batch_alter_table("tries") as batch:
        batch.drop_column("result_digest")
    op.drop_index("ix_task_runs_pool_state", "task_runs")
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_column("interruptions")
        batch.drop_column("cache_key")
        batch.drop_column("note")
        batch.drop_column("pool")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("fence")
    with op.batch_alter_table("flows") as batch:
        batch.drop_column("code_kind")
        batch.drop_column("snapshot")
