"""request_log.answer_logged: a money call's row is written with its transaction, its answer later.

Revision ID: 3f0b6c2d9a41
Revises: 71e46dc4db90
Create Date: 2026-12-02 09:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3f0b6c2d9a41"
down_revision = "71e46dc4db90"
branch_labels = None
depends_on = None


def upgrade():
    # Every row logged before this revision was written whole, answer included.
    with op.batch_alter_table("request_log") as batch_op:
        batch_op.add_column(sa.Column("answer_logged", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade():
    with op.batch_alter_table("request_log") as batch_op:
        batch_op.drop_column("answer_logged")
