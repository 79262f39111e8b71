"""One adjustment per issuer reference; the pending cancellation as Text.

``order_adjustments`` gets a unique ``(order_id, reference)``: two tabs that both try to record the same refund
or reversal hit it, and the shop treats the second as already recorded. ``orders.pending_cancellation`` (JSON of
the lines being cancelled) was ``String(400)``, which about 45 order lines overflow on PostgreSQL.

An existing database holding a refund recorded twice stops this upgrade with the constraint's error: such rows are
a money discrepancy to look at, not something to delete silently.

Revision ID: b3c1d2e4f5a6
Revises: 7abe934cf355
Create Date: 2026-12-02 04:20:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b3c1d2e4f5a6"
down_revision = "7abe934cf355"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("order_adjustments", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_order_adjustments_order_id"), ["order_id", "reference"])
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column(
            "pending_cancellation", existing_type=sa.String(length=400), type_=sa.Text(), existing_nullable=False
        )


def downgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column(
            "pending_cancellation", existing_type=sa.Text(), type_=sa.String(length=400), existing_nullable=False
        )
    with op.batch_alter_table("order_adjustments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_order_adjustments_order_id"), type_="unique")
