"""One row per Pay with Points journey (pwp_journeys), maintained as events are recorded; back-filled here.

Revision ID: e5f3a8c1b2d7
Revises: d4e2b7c9a1f3
Create Date: 2026-12-02 18:40:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e5f3a8c1b2d7"
down_revision = "d4e2b7c9a1f3"
branch_labels = None
depends_on = None

# The same fold as shop/checkout/events.py journeys_from_events, frozen here as this revision's SQL: the first
# time of each step, the codes sent, and the kind and code of each order's latest event.
BACK_FILL = """
INSERT INTO pwp_journeys (order_id, paid_event_at, offer_at, code_at, codes_sent, verified_at, redeemed_at,
                          skipped_at, last_kind, last_code, events)
SELECT folded.order_id, folded.paid_event_at, folded.offer_at, folded.code_at, folded.codes_sent,
       folded.verified_at, folded.redeemed_at, folded.skipped_at, last_event.kind, last_event.code, folded.events
FROM (
    SELECT order_id,
           MIN(CASE WHEN kind = 'card_paid_eligible' THEN at END) AS paid_event_at,
           MIN(CASE WHEN kind = 'offer_shown' THEN at END) AS offer_at,
           MIN(CASE WHEN kind = 'code_sent' THEN at END) AS code_at,
           COUNT(CASE WHEN kind = 'code_sent' THEN 1 END) AS codes_sent,
           MIN(CASE WHEN kind = 'verified' THEN at END) AS verified_at,
           MIN(CASE WHEN kind = 'points_redeemed' THEN at END) AS redeemed_at,
           MIN(CASE WHEN kind = 'skipped' THEN at END) AS skipped_at,
           MAX(id) AS last_event_id,
           COUNT(*) AS events
    FROM pwp_events
    WHERE order_id IS NOT NULL
    GROUP BY order_id
) AS folded
JOIN pwp_events AS last_event ON last_event.id = folded.last_event_id
"""


def upgrade():
    op.create_table(
        "pwp_journeys",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("paid_event_at", sa.DateTime(), nullable=True),
        sa.Column("offer_at", sa.DateTime(), nullable=True),
        sa.Column("code_at", sa.DateTime(), nullable=True),
        sa.Column("codes_sent", sa.Integer(), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("redeemed_at", sa.DateTime(), nullable=True),
        sa.Column("skipped_at", sa.DateTime(), nullable=True),
        sa.Column("last_kind", sa.String(length=30), nullable=False),
        sa.Column("last_code", sa.String(length=60), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.execute(BACK_FILL)


def downgrade():
    op.drop_table("pwp_journeys")
