"""Orders remember when their latest money call was committed as intent (reconcile finds stale ones).

Revision ID: c3f1a9d2e7b4
Revises: b3c1d2e4f5a6
Create Date: 2026-12-02 04:20:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c3f1a9d2e7b4"
down_revision = "b3c1d2e4f5a6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("bank_intent_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_column("bank_intent_at")
