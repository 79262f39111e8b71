"""The card account's statement: purchases, refunds, Pay with Points credits and their reversals."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from .extensions import db
from .models import Card, CardStatementLine

PURCHASE = "PURCHASE"
REFUND = "REFUND"
POINTS_CREDIT = "POINTS_CREDIT"
POINTS_CREDIT_REVERSAL = "POINTS_CREDIT_REVERSAL"

# Which way each kind moves what the cardholder owes.
_SIGN = {PURCHASE: 1, REFUND: -1, POINTS_CREDIT: -1, POINTS_CREDIT_REVERSAL: 1}


def post_line(
    card: Card,
    kind: str,
    amount_cents: int,
    description: str,
    now: datetime,
    posting_date: date | None = None,
    merchant_name: str = "",
    reference: str = "",
) -> CardStatementLine:
    """Add a statement line and move the card's outstanding balance by it, in one UPDATE.

    ``amount_cents`` is the positive size of the movement; the kind decides its sign.
    """
    if amount_cents <= 0:
        raise ValueError("A statement line moves a positive amount.")
    signed = _SIGN[kind] * amount_cents
    line = CardStatementLine(
        card_id=card.id,
        kind=kind,
        amount_cents=signed,
        currency_code="HKD",
        description=description,
        merchant_name=merchant_name,
        reference=reference,
        transaction_date=now,
        posting_date=posting_date or now.date(),
    )
    db.session.add(line)
    table = Card.__table__
    new_outstanding = db.session.execute(
        sa.update(table)
        .where(table.c.id == card.id)
        .values(outstanding_cents=table.c.outstanding_cents + signed)
        .returning(table.c.outstanding_cents)
    ).scalar_one()
    set_committed_value(card, "outstanding_cents", new_outstanding)
    return line


def lines_for(card: Card) -> list[CardStatementLine]:
    """The card's statement, oldest first."""
    return list(
        db.session.scalars(
            sa.select(CardStatementLine)
            .where(CardStatementLine.card_id == card.id)
            .order_by(CardStatementLine.transaction_date, CardStatementLine.id)
        )
    )
