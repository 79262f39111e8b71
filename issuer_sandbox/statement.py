"""The card account's statement: purchases, refunds, Pay with Points credits and their reversals."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from .database import Prebuilt, core_connection
from .extensions import db
from .models import Card, CardStatementLine

PURCHASE = "PURCHASE"
REFUND = "REFUND"
POINTS_CREDIT = "POINTS_CREDIT"
POINTS_CREDIT_REVERSAL = "POINTS_CREDIT_REVERSAL"

# Which way each kind moves what the cardholder owes.
_SIGN = {PURCHASE: 1, REFUND: -1, POINTS_CREDIT: -1, POINTS_CREDIT_REVERSAL: 1}


_lines = CardStatementLine.__table__
_cards = Card.__table__
_INSERT_LINE = sa.insert(_lines)
_MOVE_OUTSTANDING = (
    sa.update(_cards)
    .where(_cards.c.id == sa.bindparam("card_id"))
    .values(outstanding_cents=_cards.c.outstanding_cents + sa.bindparam("signed"))
    .returning(_cards.c.outstanding_cents)
)
_LINE_COLUMNS = (
    "card_id",
    "kind",
    "amount_cents",
    "currency_code",
    "description",
    "merchant_name",
    "reference",
    "transaction_date",
    "posting_date",
)
_INSERT_LINE_FAST = Prebuilt(_INSERT_LINE, _LINE_COLUMNS)
_MOVE_OUTSTANDING_FAST = Prebuilt(_MOVE_OUTSTANDING)


def post_line(
    card: Card,
    kind: str,
    amount_cents: int,
    description: str,
    now: datetime,
    posting_date: date | None = None,
    merchant_name: str = "",
    reference: str = "",
) -> int:
    """Add a statement line and move the card's outstanding balance by it; returns the new outstanding.

    ``amount_cents`` is the positive size of the movement; the kind decides its sign.
    """
    outstanding = post_card_line(card.id, kind, amount_cents, description, now, posting_date, merchant_name, reference)
    set_committed_value(card, "outstanding_cents", outstanding)  # keep the loaded card in step
    return outstanding


def post_card_line(
    card_id: int,
    kind: str,
    amount_cents: int,
    description: str,
    now: datetime,
    posting_date: date | None = None,
    merchant_name: str = "",
    reference: str = "",
    connection: sa.Connection | None = None,
) -> int:
    """``post_line`` by the card's id, in two statements (an INSERT and one UPDATE); returns the new outstanding.

    ``connection``: the session's connection (``core_connection``) if the caller holds it already.
    """
    if amount_cents <= 0:
        raise ValueError("A statement line moves a positive amount.")
    signed = _SIGN[kind] * amount_cents
    if connection is None:
        connection = core_connection()
    _INSERT_LINE_FAST.execute(
        connection,
        {
            "card_id": card_id,
            "kind": kind,
            "amount_cents": signed,
            "currency_code": "HKD",
            "description": description,
            "merchant_name": merchant_name,
            "reference": reference,
            "transaction_date": now,
            "posting_date": posting_date or now.date(),
        },
    )
    return _MOVE_OUTSTANDING_FAST.execute(connection, {"card_id": card_id, "signed": signed}).scalar_one()


def lines_for(card: Card) -> list[CardStatementLine]:
    """The card's statement, oldest first."""
    return list(
        db.session.scalars(
            sa.select(CardStatementLine)
            .where(CardStatementLine.card_id == card.id)
            .order_by(CardStatementLine.transaction_date, CardStatementLine.id)
        )
    )
