"""The language of each reward link (en | zh_Hant_HK): the OTP SMS of its enrolment and resends is in it.

Revision ID: b7d2e4f6a813
Revises: e5a1c7b3d9f2
Create Date: 2026-12-02 18:30:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7d2e4f6a813"
down_revision = "e5a1c7b3d9f2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reward_links") as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), server_default="en", nullable=False))


def downgrade():
    with op.batch_alter_table("reward_links") as batch_op:
        batch_op.drop_column("language")
