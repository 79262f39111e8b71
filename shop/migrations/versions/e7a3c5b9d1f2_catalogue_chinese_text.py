"""The catalogue in Traditional Chinese: each category's and product's Chinese name and description.

Revision ID: e7a3c5b9d1f2
Revises: e5f3a8c1b2d7
Create Date: 2026-12-02 18:40:00

Existing rows get empty text here; ``flask --app shop seed`` fills it in from shop/data/catalogue.toml.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e7a3c5b9d1f2"
down_revision = "e5f3a8c1b2d7"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("categories") as batch_op:
        batch_op.add_column(sa.Column("name_zh", sa.String(length=80), server_default="", nullable=False))
    with op.batch_alter_table("products") as batch_op:
        batch_op.add_column(sa.Column("name_zh", sa.String(length=120), server_default="", nullable=False))
        batch_op.add_column(sa.Column("description_zh", sa.Text(), server_default="", nullable=False))


def downgrade():
    with op.batch_alter_table("products") as batch_op:
        batch_op.drop_column("description_zh")
        batch_op.drop_column("name_zh")
    with op.batch_alter_table("categories") as batch_op:
        batch_op.drop_column("name_zh")
