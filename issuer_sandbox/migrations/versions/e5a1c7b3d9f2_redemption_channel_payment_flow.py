"""Two doors to one ledger: each redemption's channel (partner API or the bank's site) and the payment it
offsets, and the Pay with Points flow each gateway payment was made in.

Revision ID: e5a1c7b3d9f2
Revises: 3f0b6c2d9a41
Create Date: 2026-12-02 09:50:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e5a1c7b3d9f2"
down_revision = "3f0b6c2d9a41"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("payments") as batch_op:
        batch_op.add_column(sa.Column("pwp_flow", sa.String(length=10), server_default="native", nullable=False))
    with op.batch_alter_table("redemptions") as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=20), server_default="PARTNER_API", nullable=False))
        batch_op.add_column(sa.Column("payment_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_redemptions_payment_id"), ["payment_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_redemptions_payment_id_payments"), "payments", ["payment_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("redemptions") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_redemptions_payment_id_payments"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_redemptions_payment_id"))
        batch_op.drop_column("payment_id")
        batch_op.drop_column("channel")
    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_column("pwp_flow")
