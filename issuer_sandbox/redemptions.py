"""Pay with Points: the balance a partner may show, redemptions into statement credit, and their reversals.

Plain rules: they take the partner's id, parsed values and ``now``, and raise the named exceptions below.
``redeem`` and ``reverse`` are each one database transaction and commit it themselves; on a named
exception nothing was written, so a shopper may retry the same reference with other values.

Concurrency: every money call first locks the card's points account (FOR UPDATE on PostgreSQL; SQLite
already holds its write lock), and only then looks up the idempotency reference, so two requests on one
card are serialised and a replay always sees the first one's row. Two requests with one reference on
different cards are not serialised by that lock: the loser trips the unique (partner, reference)
constraint, is rolled back whole and answered as a replay (or a conflict).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from . import ledger, statement
from .api.parsing import cents_to_amount  # a pure formatter: this module never touches the request
from .extensions import db
from .idempotency import fingerprint, replay_or_write, stored_response
from .links import ACTIVE, UNLINKED, LinkNotFound
from .models import Card, LedgerAccount, PartnerClient, Programme, Redemption, RedemptionReversal, RewardLink

COMPLETED = "COMPLETED"
PARTIALLY_REVERSED = "PARTIALLY_REVERSED"
REVERSED = "REVERSED"

MINIMUM_TRANSACTION_CENTS = 1_000  # HK$10: smaller purchases cannot be paid with points
# Keeps "Pay with Points credit reversed: <description>" within a statement line's 200 characters.
MAX_DESCRIPTION_LENGTH = 140


class RedemptionError(Exception):
    """Base of the redemption rules' named failures."""


class InactiveLink(RedemptionError):
    """The link exists but is not ACTIVE (its OTP was never verified, or it is locked)."""


class NotEligibleToRedeem(RedemptionError):
    """The card is frozen or not in a points programme."""


class CurrencyMismatch(RedemptionError):
    """The purchase is in a currency other than the programme's."""


class BelowMinimumTransactionAmount(RedemptionError):
    """The purchase is too small to pay with points."""


class BelowMinimumPoints(RedemptionError):
    """Fewer points than the programme's minimum per redemption."""


class ExceedsMaximumPoints(RedemptionError):
    """More points than the programme allows in one redemption."""


class ExceedsMaximumAmount(RedemptionError):
    """The points are worth more than the purchase they would offset."""


class InvalidPointsIncrement(RedemptionError):
    """The points are not a multiple of the programme's increment, so the credit would not be whole cents."""


class InsufficientPointBalance(RedemptionError):
    """The card does not hold that many points."""


class TransactionAlreadyRedeemed(RedemptionError):
    """The transactionReferenceNumber was already used with a different request."""


class RedemptionNotFound(RedemptionError):
    """No redemption with that id or reference belongs to this partner."""


class ExceedsReversiblePoints(RedemptionError):
    """The reversal asks for more points than are left to reverse."""


class ReversalAlreadyProcessed(RedemptionError):
    """The reversalReferenceNumber was already used with a different request."""


@dataclass(frozen=True)
class RedemptionOrder:
    """A parsed redemption request."""

    transaction_reference: str
    transaction_amount: Decimal  # two decimals, positive
    currency_code: str
    points: int
    description: str


@dataclass(frozen=True)
class ReversalOrder:
    """A parsed reversal request."""

    order_id: str
    reversal_reference: str
    points: int


@dataclass(frozen=True)
class Outcome:
    """The exact JSON text of a money call's response, and whether it replays an earlier one."""

    body: str
    replayed: bool


@dataclass(frozen=True)
class PointBalance:
    """What a partner may show before a redemption."""

    eligible: bool
    available_points: int
    conversion_rate: str  # currency per point, a decimal string
    currency_code: str
    point_increment: int
    minimum_points: int
    maximum_points: int


# --- Arithmetic ---------------------------------------------------------------------------------


def credit_cents(points: int, conversion_rate: str) -> int:
    """The statement credit for these points, in cents, exactly; InvalidPointsIncrement if not whole cents."""
    cents = Decimal(points) * Decimal(conversion_rate) * 100
    if cents != cents.to_integral_value():
        raise InvalidPointsIncrement(f"{points} points at {conversion_rate} are not a whole number of cents.")
    return int(cents)


def redeemable_maximum(balance: int, programme: Programme) -> int:
    """The most points one redemption could use now: the balance capped by the programme, on the increment."""
    ceiling = min(balance, programme.maximum_points_per_redemption)
    return max(ceiling, 0) // programme.point_increment * programme.point_increment


def _cents(amount: Decimal) -> int:
    return int(amount * 100)


def redemption_fingerprint(link_code: str, order: RedemptionOrder) -> str:
    """The fingerprint of a redemption request: "520" and "520.00" are the same request."""
    return fingerprint(
        {
            "rewardLinkCode": link_code,
            "transactionReferenceNumber": order.transaction_reference,
            "transactionAmount": str(order.transaction_amount.quantize(Decimal("0.01"))),
            "currencyCode": order.currency_code,
            "pointsToRedeem": order.points,
            "transactionDescription": order.description,
        }
    )


def reversal_fingerprint(order: ReversalOrder) -> str:
    return fingerprint(
        {
            "orderId": order.order_id,
            "reversalReferenceNumber": order.reversal_reference,
            "pointsToReverse": order.points,
        }
    )


def _public_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(10).upper()}"


def _merchant_name(partner_client_id: int) -> str:
    partner = db.session.get(PartnerClient, partner_client_id)
    return partner.merchant_name if partner else ""


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


# --- Links and balance --------------------------------------------------------------------------


def _partner_link(partner_client_id: int, link_code: str) -> RewardLink:
    """The partner's link with this code in any state (an unlinked one still replays its redemptions)."""
    link = db.session.scalar(
        sa.select(RewardLink).where(RewardLink.code == link_code, RewardLink.partner_client_id == partner_client_id)
    )
    if link is None:
        raise LinkNotFound(link_code)
    return link


def _require_active(link: RewardLink) -> None:
    if link.status == UNLINKED:
        raise LinkNotFound(link.code)
    if link.status != ACTIVE:
        raise InactiveLink(f"The reward link is {link.status}, not ACTIVE: verify the OTP or enrol again.")


def _programme_of(card: Card) -> Programme:
    if card.programme is None:
        raise NotEligibleToRedeem(f"The card ending {card.last4} is not in a points programme.")
    return card.programme


def point_balance(partner_client_id: int, link_code: str) -> PointBalance:
    """The linked card's points and what they are worth. Raises LinkNotFound or InactiveLink."""
    link = _partner_link(partner_client_id, link_code)
    _require_active(link)
    card = link.card
    programme = _programme_of(card)
    balance = ledger.balance_of(card)
    maximum = redeemable_maximum(balance, programme)
    return PointBalance(
        eligible=card.status == "ACTIVE" and maximum >= programme.minimum_points,
        available_points=balance,
        conversion_rate=programme.conversion_rate,
        currency_code=programme.currency_code,
        point_increment=programme.point_increment,
        minimum_points=programme.minimum_points,
        maximum_points=maximum,
    )


# --- Redemption ---------------------------------------------------------------------------------


def redeem(partner_client_id: int, link_code: str, order: RedemptionOrder, now: datetime) -> Outcome:
    """Turn points into a statement credit against a purchase, or replay the first answer to this reference.

    Raises LinkNotFound, InactiveLink, NotEligibleToRedeem, CurrencyMismatch, BelowMinimumTransactionAmount,
    BelowMinimumPoints, InvalidPointsIncrement, ExceedsMaximumPoints, ExceedsMaximumAmount,
    InsufficientPointBalance or TransactionAlreadyRedeemed, having written nothing. Commits.
    """
    request_fingerprint = redemption_fingerprint(link_code, order)

    def lock() -> tuple[RewardLink, LedgerAccount]:
        link = _partner_link(partner_client_id, link_code)
        return link, ledger.lock_account(ledger.cardholder_account(link.card))

    def write(locked: tuple[RewardLink, LedgerAccount]) -> Outcome:
        link, account = locked
        return Outcome(_redeem(partner_client_id, link, account, order, request_fingerprint, now), replayed=False)

    return replay_or_write(
        lock, lambda _: _replay_redemption(partner_client_id, order.transaction_reference, request_fingerprint), write
    )


def _redemption_by_reference(partner_client_id: int, transaction_reference: str) -> Redemption | None:
    return db.session.scalar(
        sa.select(Redemption).where(
            Redemption.partner_client_id == partner_client_id,
            Redemption.transaction_reference == transaction_reference,
        )
    )


def _replay_redemption(partner_client_id: int, transaction_reference: str, request_fingerprint: str) -> Outcome | None:
    conflict = TransactionAlreadyRedeemed(
        f"transactionReferenceNumber {transaction_reference} was already redeemed with a different request."
    )
    body = stored_response(
        _redemption_by_reference(partner_client_id, transaction_reference), request_fingerprint, conflict
    )
    return None if body is None else Outcome(body, replayed=True)


def check_redemption(link: RewardLink, order: RedemptionOrder) -> int:
    """Every rule a redemption must meet before the debit; returns the credit in cents."""
    _require_active(link)
    card = link.card
    programme = _programme_of(card)
    if card.status != "ACTIVE":
        raise NotEligibleToRedeem(f"The card ending {card.last4} is {card.status.lower()}: it cannot redeem points.")
    if order.currency_code != programme.currency_code:
        raise CurrencyMismatch(f"The programme credits {programme.currency_code}, not {order.currency_code}.")
    transaction_cents = _cents(order.transaction_amount)
    if transaction_cents < MINIMUM_TRANSACTION_CENTS:
        raise BelowMinimumTransactionAmount(
            f"Purchases under {cents_to_amount(MINIMUM_TRANSACTION_CENTS)} {programme.currency_code} "
            "cannot be paid with points."
        )
    if order.points < programme.minimum_points:
        raise BelowMinimumPoints(f"Redeem at least {programme.minimum_points} points.")
    if order.points % programme.point_increment:
        raise InvalidPointsIncrement(f"Redeem points in multiples of {programme.point_increment}.")
    if order.points > programme.maximum_points_per_redemption:
        raise ExceedsMaximumPoints(f"Redeem at most {programme.maximum_points_per_redemption} points at a time.")
    credit = credit_cents(order.points, programme.conversion_rate)
    if credit > transaction_cents:
        raise ExceedsMaximumAmount(
            f"{order.points} points are worth {cents_to_amount(credit)}, more than the transaction amount "
            f"{cents_to_amount(transaction_cents)}."
        )
    return credit


def _redeem(
    partner_client_id: int,
    link: RewardLink,
    account: LedgerAccount,
    order: RedemptionOrder,
    request_fingerprint: str,
    now: datetime,
) -> str:
    # The link and card were read before the lock: read them again now that the answer cannot change.
    db.session.refresh(link)
    db.session.refresh(link.card)
    credit = check_redemption(link, order)
    card = link.card
    merchant_name = _merchant_name(partner_client_id)
    order_id = _public_id("RDM")
    try:
        transaction = ledger.redeem_points(
            card, order.points, f"Pay with Points {order_id}: {order.description}", now, reference=order_id
        )
    except ledger.InsufficientPoints:
        raise InsufficientPointBalance(
            f"The card holds {account.balance} points, fewer than the {order.points} requested."
        ) from None
    posting_date = now.date()
    body = json.dumps(
        {
            "orderId": order_id,
            "status": COMPLETED,
            "pointsRedeemed": order.points,
            "redeemedAmount": cents_to_amount(credit),
            "availablePointBalance": account.balance,
            "creditPostingDate": posting_date.isoformat(),
        }
    )
    db.session.add(
        Redemption(
            order_id=order_id,
            partner_client_id=partner_client_id,
            transaction_reference=order.transaction_reference,
            request_fingerprint=request_fingerprint,
            reward_link_id=link.id,
            card_id=card.id,
            points=order.points,
            amount_cents=credit,
            transaction_amount_cents=_cents(order.transaction_amount),
            currency_code=order.currency_code,
            description=order.description,
            status=COMPLETED,
            points_reversed=0,
            credit_posting_date=posting_date,
            response_body=body,
            ledger_transaction_id=transaction.id,
            created_at=now,
        )
    )
    # Insert now: a concurrent twin on another card fails here, before its statement line.
    db.session.flush()
    statement.post_line(
        card,
        statement.POINTS_CREDIT,
        credit,
        f"Pay with Points credit: {order.description}",
        now,
        posting_date=posting_date,
        merchant_name=merchant_name,
        reference=order.transaction_reference,
    )
    return body


# --- Look-ups -----------------------------------------------------------------------------------


def find_redemption(partner_client_id: int, order_id: str) -> Redemption:
    """The partner's redemption with this orderId; another partner's is not found either."""
    redemption = db.session.scalar(
        sa.select(Redemption).where(Redemption.order_id == order_id, Redemption.partner_client_id == partner_client_id)
    )
    if redemption is None:
        raise RedemptionNotFound(f"No redemption {order_id} for this client.")
    return redemption


def find_redemption_by_reference(partner_client_id: int, transaction_reference: str) -> Redemption:
    """The partner's redemption for this transactionReferenceNumber."""
    redemption = _redemption_by_reference(partner_client_id, transaction_reference)
    if redemption is None:
        raise RedemptionNotFound(f"No redemption with transactionReferenceNumber {transaction_reference}.")
    return redemption


def redemption_details(redemption: Redemption) -> dict[str, Any]:
    """A redemption as the look-ups show it now: its status, reversals and what is left to reverse."""
    return {
        "orderId": redemption.order_id,
        "status": redemption.status,
        "pointsRedeemed": redemption.points,
        "redeemedAmount": cents_to_amount(redemption.amount_cents),
        "availablePointBalance": ledger.balance_of(redemption.card),
        "creditPostingDate": redemption.credit_posting_date.isoformat(),
        "transactionReferenceNumber": redemption.transaction_reference,
        "transactionAmount": cents_to_amount(redemption.transaction_amount_cents),
        "pointsReversed": redemption.points_reversed,
        "remainingReversiblePoints": redemption.points - redemption.points_reversed,
        "createdAt": _iso(redemption.created_at),
        "reversals": [
            {
                "reversalId": reversal.reversal_id,
                "reversalReferenceNumber": reversal.reversal_reference,
                "pointsReversed": reversal.points,
                "amountReversed": cents_to_amount(reversal.amount_cents),
                "createdAt": _iso(reversal.created_at),
            }
            for reversal in redemption.reversals
        ],
    }


# --- Reversal -----------------------------------------------------------------------------------


def reverse(partner_client_id: int, order: ReversalOrder, now: datetime) -> Outcome:
    """Give back some or all of a redemption's points and take back that part of the credit, or replay.

    Works whatever the link's state now. Raises RedemptionNotFound, ReversalAlreadyProcessed,
    ExceedsReversiblePoints or InvalidPointsIncrement, having written nothing. Commits.
    """
    request_fingerprint = reversal_fingerprint(order)

    def lock() -> tuple[Redemption, LedgerAccount]:
        redemption = find_redemption(partner_client_id, order.order_id)
        return redemption, ledger.lock_account(ledger.cardholder_account(redemption.card))

    def write(locked: tuple[Redemption, LedgerAccount]) -> Outcome:
        redemption, account = locked
        return Outcome(_reverse(partner_client_id, redemption, account, order, request_fingerprint, now), False)

    return replay_or_write(
        lock, lambda _: _replay_reversal(partner_client_id, order.reversal_reference, request_fingerprint), write
    )


def _reversal_by_reference(partner_client_id: int, reversal_reference: str) -> RedemptionReversal | None:
    return db.session.scalar(
        sa.select(RedemptionReversal).where(
            RedemptionReversal.partner_client_id == partner_client_id,
            RedemptionReversal.reversal_reference == reversal_reference,
        )
    )


def _replay_reversal(partner_client_id: int, reversal_reference: str, request_fingerprint: str) -> Outcome | None:
    conflict = ReversalAlreadyProcessed(
        f"reversalReferenceNumber {reversal_reference} was already used with a different request."
    )
    body = stored_response(_reversal_by_reference(partner_client_id, reversal_reference), request_fingerprint, conflict)
    return None if body is None else Outcome(body, replayed=True)


def reversal_cents(redemption: Redemption, points: int, amount_reversed_cents: int, increment: int) -> int:
    """The part of the credit these points took, exactly: pro rata, or all that is left for the last points."""
    remaining = redemption.points - redemption.points_reversed
    if points > remaining:
        raise ExceedsReversiblePoints(f"Only {remaining} points of {redemption.order_id} are left to reverse.")
    if points == remaining:
        return redemption.amount_cents - amount_reversed_cents
    scaled = redemption.amount_cents * points
    if points % increment or scaled % redemption.points:
        raise InvalidPointsIncrement(f"Reverse points in multiples of {increment}, or all {remaining} that are left.")
    return scaled // redemption.points


def _reverse(
    partner_client_id: int,
    redemption: Redemption,
    account: LedgerAccount,
    order: ReversalOrder,
    request_fingerprint: str,
    now: datetime,
) -> str:
    # Another reversal may have committed while we waited for the lock.
    db.session.refresh(redemption)
    card = redemption.card
    merchant_name = _merchant_name(partner_client_id)
    programme = _programme_of(card)
    amount_reversed = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(RedemptionReversal.amount_cents), 0)).where(
            RedemptionReversal.redemption_id == redemption.id
        )
    )
    amount = reversal_cents(redemption, order.points, int(amount_reversed), programme.point_increment)
    reversal_id = _public_id("RVS")
    transaction = ledger.reverse_points(
        card, order.points, f"Pay with Points reversal of {redemption.order_id}", now, reference=reversal_id
    )
    redemption.points_reversed += order.points
    remaining = redemption.points - redemption.points_reversed
    redemption.status = REVERSED if remaining == 0 else PARTIALLY_REVERSED
    body = json.dumps(
        {
            "reversalId": reversal_id,
            "pointsReversed": order.points,
            "amountReversed": cents_to_amount(amount),
            "remainingReversiblePoints": remaining,
            "availablePointBalance": account.balance,
        }
    )
    db.session.add(
        RedemptionReversal(
            reversal_id=reversal_id,
            redemption_id=redemption.id,
            partner_client_id=partner_client_id,
            reversal_reference=order.reversal_reference,
            request_fingerprint=request_fingerprint,
            points=order.points,
            amount_cents=amount,
            response_body=body,
            ledger_transaction_id=transaction.id,
            created_at=now,
        )
    )
    db.session.flush()
    statement.post_line(
        card,
        statement.POINTS_CREDIT_REVERSAL,
        amount,
        f"Pay with Points credit reversed: {redemption.description}",
        now,
        posting_date=now.date(),
        merchant_name=merchant_name,
        reference=order.reversal_reference,
    )
    return body
