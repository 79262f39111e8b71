"""Staff accounts, the Pay with Points flow of each order, and simulated journeys (insights, legacy flow).

Revision ID: d4e2b7c9a1f3
Revises: c3f1a9d2e7b4
Create Date: 2026-12-02 09:40:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d4e2b7c9a1f3"
down_revision = "c3f1a9d2e7b4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("is_staff", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("pwp_flow", sa.String(length=10), server_default="native", nullable=False))
        batch_op.add_column(sa.Column("simulated", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_column("simulated")
        batch_op.drop_column("pwp_flow")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("is_staff")
