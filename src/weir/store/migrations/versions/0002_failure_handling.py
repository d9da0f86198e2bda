"""Failure handling: cancel requests and run owners, result lengths, the task cache.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from weir.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("owner", sa.String(100)))
    with op.batch_alter_table("tries") as batch:
        batch.add_column(sa.Column("result_length", sa.BigInteger()))
    op.create_table(
        "owners",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("flow_name", sa.String(200), nullable=False),
        sa.Column("task_id", sa.String(200), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("result_data", sa.LargeBinary()),
        sa.Column("result_path", sa.Text()),
        sa.Column("result_size", sa.BigInteger()),
        sa.Column("result_length", sa.BigInteger()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime()),
    )


def downgrade() -> None:
    op.drop_table("cache")
    op.drop_table("owners")
    with op.batch_alter_table("tries") as batch:
        batch.drop_column("result_length")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("owner")
        batch.drop_column("cancel_requested")
