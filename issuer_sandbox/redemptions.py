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
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from . import ledger, schemas, statement
from .clock import iso
from .database import Prebuilt, core_connection, lock_precedes_snapshot
from .errors import RuleError
from .extensions import db
from .idempotency import fingerprint, replay_or_write, stored_response
from .links import ACTIVE, UNLINKED, LinkNotFound
from .models import (
    Card,
    LedgerAccount,
    PartnerClient,
    Payment,
    Programme,
    Redemption,
    RedemptionReversal,
    RewardLink,
)
from .money import amount_to_cents, cents_to_amount

COMPLETED = "COMPLETED"
PARTIALLY_REVERSED = "PARTIALLY_REVERSED"
REVERSED = "REVERSED"

MINIMUM_TRANSACTION_CENTS = 1_000  # HK$10: smaller purchases cannot be paid with points

# The two doors to one ledger: the merchant's checkout through the partner API, and the bank's own site.
PARTNER_API = "PARTNER_API"
BANK_SITE = "BANK_SITE"
CHANNELS = (PARTNER_API, BANK_SITE)
# How far back the bank's site offers purchases to redeem against (on the sandbox clock).
BANK_SITE_PURCHASE_DAYS = 90


class RedemptionError(RuleError):
    """Base of the redemption rules' named failures."""


class InactiveLink(RedemptionError):
    """The link exists but is not ACTIVE (its OTP was never verified, or it is locked)."""

    status = 422
    code = "inactiveRewardLinkCode"


class NotEligibleToRedeem(RedemptionError):
    """The card is frozen or not in a points programme."""

    status = 422
    code = "notEligibleToRedeem"


class CurrencyMismatch(RedemptionError):
    """The purchase is in a currency other than the programme's."""

    status = 400
    code = "invalidRequest"


class BelowMinimumTransactionAmount(RedemptionError):
    """The purchase is too small to pay with points."""

    status = 422
    code = "belowMinimumTransactionAmount"


class BelowMinimumPoints(RedemptionError):
    """Fewer points than the programme's minimum per redemption."""

    status = 422
    code = "belowMinimumPointsAllowed"


class ExceedsMaximumPoints(RedemptionError):
    """More points than the programme allows in one redemption."""

    status = 422
    code = "exceedsMaximumPointsAllowed"


class ExceedsMaximumAmount(RedemptionError):
    """The points are worth more than the purchase they would offset."""

    status = 422
    code = "exceedsMaximumAmountAllowed"


class InvalidPointsIncrement(RedemptionError):
    """The points are not a multiple of the programme's increment, so the credit would not be whole cents."""

    status = 422
    code = "invalidPointsAndAmountCombination"


class InsufficientPointBalance(RedemptionError):
    """The card does not hold that many points."""

    status = 422
    code = "inSufficientPointBalance"


class TransactionAlreadyRedeemed(RedemptionError):
    """The transactionReferenceNumber was already used with a different request."""

    status = 409
    code = "transactionAlreadyRedeemed"


class PurchaseNotRedeemable(RedemptionError):
    """The bank's site was asked to redeem against a purchase it does not offer: not this card's, not
    captured, refunded, older than the site's window or under the minimum transaction amount."""

    status = 422
    code = "notEligibleToRedeem"


class PurchaseAlreadyRedeemed(TransactionAlreadyRedeemed):
    """Points were already redeemed against this purchase, at the merchant's checkout or on the bank's site."""


class RedemptionNotFound(RedemptionError):
    """No redemption with that id or reference belongs to this partner."""

    status = 404
    code = "redemptionNotFound"


class ExceedsReversiblePoints(RedemptionError):
    """The reversal asks for more points than are left to reverse."""

    status = 422
    code = "exceedsReversiblePoints"


class ReversalAlreadyProcessed(RedemptionError):
    """The reversalReferenceNumber was already used with a different request."""

    status = 409
    code = "reversalAlreadyProcessed"


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


def redeemable_maximum(balance: int, programme: Programme | Terms) -> int:
    """The most points one redemption could use now: the balance capped by the programme, on the increment."""
    ceiling = min(balance, programme.maximum_points_per_redemption)
    return max(ceiling, 0) // programme.point_increment * programme.point_increment


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


# The money calls' answers, written by hand: the same bytes as ``json.dumps(schemas.dump(model))`` of a
# schemas.RedemptionResponse or schemas.ReversalResponse (the models' field order, ``json.dumps`` spacing: the
# bodies stored before), for a fraction of its cost, since the body is built inside the write lock. Every
# value is an id of hex digits, a whole number, an amount from ``cents_to_amount`` or an ISO date: nothing to
# escape. tests/test_redemptions.py and tests/test_reversals.py hold them to the models.
def _redemption_body(order_id: str, points: int, credit: int, balance: int, posting_date: date) -> str:
    return (
        f'{{"orderId": "{order_id}", "status": "{COMPLETED}", "pointsRedeemed": {points:d}, '
        f'"redeemedAmount": "{cents_to_amount(credit)}", "availablePointBalance": {balance:d}, '
        f'"creditPostingDate": "{posting_date.isoformat()}"}}'
    )


def _reversal_body(reversal_id: str, points: int, amount: int, remaining: int, balance: int) -> str:
    return (
        f'{{"reversalId": "{reversal_id}", "pointsReversed": {points:d}, '
        f'"amountReversed": "{cents_to_amount(amount)}", "remainingReversiblePoints": {remaining:d}, '
        f'"availablePointBalance": {balance:d}}}'
    )


def _merchant_name(partner_client_id: int) -> str:
    partner = db.session.get(PartnerClient, partner_client_id)
    return partner.merchant_name if partner else ""


# --- Links and balance --------------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """A programme's redemption terms, as the rules need them."""

    id: int
    code: str
    conversion_rate: str
    currency_code: str
    point_increment: int
    minimum_points: int
    maximum_points_per_redemption: int


@dataclass(frozen=True)
class LinkedCard:
    """A partner's link with its card, programme and points accounts, read in one statement."""

    link_id: int
    link_code: str
    link_status: str
    card_id: int
    card_status: str
    last4: str
    programme: Terms | None
    account_id: int | None  # the card's points account (None until points first move)
    account_code: str
    balance: int
    redemption_account_id: int | None  # the programme's REDEMPTION account (None until first used)


_links = RewardLink.__table__
_cards = Card.__table__
_programmes = Programme.__table__
_card_accounts = LedgerAccount.__table__.alias("card_account")
_redemption_accounts = LedgerAccount.__table__.alias("redemption_account")
_redemptions = Redemption.__table__
_reversals = RedemptionReversal.__table__

# Joins a programme to its REDEMPTION account by the account's code ("redemption:REWARDS").
_IS_PROGRAMMES_REDEMPTION_ACCOUNT = (
    _redemption_accounts.c.code == sa.literal(ledger.system_account_prefix(ledger.REDEMPTION)) + _programmes.c.code
)
_INSERT_REDEMPTION = sa.insert(_redemptions)
_INSERT_REVERSAL = sa.insert(_reversals)
_RECORD_REVERSAL = (
    sa.update(_redemptions)
    .where(_redemptions.c.id == sa.bindparam("redemption_row_id"))
    .values(points_reversed=sa.bindparam("new_points_reversed"), status=sa.bindparam("new_status"))
)

_LINKED_CARD_COLUMNS = (
    _links.c.id.label("link_id"),
    _links.c.code.label("link_code"),
    _links.c.status.label("link_status"),
    _cards.c.id.label("card_id"),
    _cards.c.status.label("card_status"),
    _cards.c.last4,
    _programmes.c.id.label("programme_id"),
    _programmes.c.code.label("programme_code"),
    _programmes.c.conversion_rate,
    _programmes.c.currency_code,
    _programmes.c.point_increment,
    _programmes.c.minimum_points,
    _programmes.c.maximum_points_per_redemption,
    _card_accounts.c.id.label("account_id"),
    _card_accounts.c.code.label("account_code"),
    _card_accounts.c.balance,
    _redemption_accounts.c.id.label("redemption_account_id"),
)


_stored = _redemptions.alias("stored")


def _linked_card_query(*, lock: bool, with_stored: bool = False) -> sa.Select:
    """The partner's link by code with what a balance or a redemption needs.

    ``lock``: take the card's points account row lock (FOR UPDATE OF it on PostgreSQL; SQLite's write
    transaction already excludes every other writer), so the account must exist: an inner join.
    ``with_stored``: also what was stored for the partner's ``reference`` (the unique pair: one row at most),
    for where the lock precedes the snapshot (``lock_precedes_snapshot``) and the look-up can share the lock's
    statement.
    """
    accounts_join = sa.Join.join if lock else sa.Join.outerjoin
    joined = _links.join(_cards, _cards.c.id == _links.c.card_id).outerjoin(
        _programmes, _programmes.c.id == _cards.c.programme_id
    )
    joined = accounts_join(joined, _card_accounts, _card_accounts.c.card_id == _cards.c.id).outerjoin(
        _redemption_accounts,
        _IS_PROGRAMMES_REDEMPTION_ACCOUNT,
    )
    columns = _LINKED_CARD_COLUMNS
    if with_stored:
        joined = joined.outerjoin(
            _stored,
            sa.and_(
                _stored.c.partner_client_id == sa.bindparam("partner_id"),
                _stored.c.transaction_reference == sa.bindparam("reference"),
            ),
        )
        columns += (
            _stored.c.request_fingerprint.label("stored_fingerprint"),
            _stored.c.response_body.label("stored_response"),
        )
    query = (
        sa.select(*columns)
        .select_from(joined)
        .where(_links.c.code == sa.bindparam("code"), _links.c.partner_client_id == sa.bindparam("partner_id"))
    )
    return query.with_for_update(of=_card_accounts) if lock else query


_LINKED_CARD = _linked_card_query(lock=False)
_LOCKED_LINKED_CARD = _linked_card_query(lock=True)
_LOCKED_LINKED_CARD_AND_STORED = _linked_card_query(lock=True, with_stored=True)


def _linked_card_of(row: sa.Row) -> LinkedCard:
    terms = None
    if row.programme_id is not None:
        terms = Terms(
            row.programme_id,
            row.programme_code,
            row.conversion_rate,
            row.currency_code,
            row.point_increment,
            row.minimum_points,
            row.maximum_points_per_redemption,
        )
    return LinkedCard(
        row.link_id,
        row.link_code,
        row.link_status,
        row.card_id,
        row.card_status,
        row.last4,
        terms,
        row.account_id,
        row.account_code or "",
        row.balance or 0,
        row.redemption_account_id,
    )


def linked_card(partner_client_id: int, link_code: str) -> LinkedCard:
    """The partner's link with this code in any state (an unlinked one still replays its redemptions)."""
    row = _FAST[_LINKED_CARD].run({"code": link_code, "partner_id": partner_client_id}).first()
    if row is None:
        raise LinkNotFound(link_code)
    return _linked_card_of(row)


@dataclass(frozen=True)
class StoredAnswer:
    """What a money call stored for its reference: the request's fingerprint and the response to replay."""

    request_fingerprint: str
    response_body: str


@dataclass(frozen=True)
class LockedCard:
    """A locked linked card, and what the call's reference stored if the locking statement could read it."""

    card: LinkedCard
    stored_read: bool  # False: look the reference up in a statement of its own, after the lock
    stored: StoredAnswer | None = None


def _stored_of(row: sa.Row) -> StoredAnswer | None:
    if row.stored_fingerprint is None:
        return None
    return StoredAnswer(row.stored_fingerprint, row.stored_response)


def _lock_linked_card(partner_client_id: int, link_code: str, reference: str | None = None) -> LockedCard:
    """``linked_card`` with the card's points account locked; opens the accounts a first redemption needs.

    With a ``reference``, where the lock precedes the snapshot (SQLite), the same statement reads what a
    redemption stored for it: one statement fewer per redemption.
    """
    with_stored = reference is not None and lock_precedes_snapshot()
    query = _LOCKED_LINKED_CARD_AND_STORED if with_stored else _LOCKED_LINKED_CARD
    params = {"code": link_code, "partner_id": partner_client_id}
    if with_stored:
        params["reference"] = reference
    row = _FAST[query].run(params).first()
    if row is None or row.redemption_account_id is None:
        found = linked_card(partner_client_id, link_code)  # LinkNotFound when there is no such link
        if found.programme is None:
            return LockedCard(found, stored_read=False)  # refused by the rules: no programme, no points account
        card = db.session.get(Card, found.card_id)
        ledger.cardholder_account(card)
        ledger.system_account(ledger.REDEMPTION, db.session.get(Programme, found.programme.id))
        row = _FAST[query].run(params).one()
    return LockedCard(_linked_card_of(row), with_stored, _stored_of(row) if with_stored else None)


def _require_active(card: LinkedCard) -> None:
    if card.link_status == UNLINKED:
        raise LinkNotFound(card.link_code)
    if card.link_status != ACTIVE:
        raise InactiveLink(f"The reward link is {card.link_status}, not ACTIVE: verify the OTP or enrol again.")


def _programme_of(card: LinkedCard) -> Terms:
    if card.programme is None:
        raise NotEligibleToRedeem(f"The card ending {card.last4} is not in a points programme.")
    return card.programme


def point_balance(partner_client_id: int, link_code: str) -> PointBalance:
    """The linked card's points and what they are worth (one statement). Raises LinkNotFound or InactiveLink."""
    card = linked_card(partner_client_id, link_code)
    _require_active(card)
    programme = _programme_of(card)
    maximum = redeemable_maximum(card.balance, programme)
    return PointBalance(
        eligible=card.card_status == "ACTIVE" and maximum >= programme.minimum_points,
        available_points=card.balance,
        conversion_rate=programme.conversion_rate,
        currency_code=programme.currency_code,
        point_increment=programme.point_increment,
        minimum_points=programme.minimum_points,
        maximum_points=maximum,
    )


# --- Redemption ---------------------------------------------------------------------------------


def redeem(
    partner_client_id: int, link_code: str, order: RedemptionOrder, now: datetime, merchant_name: str | None = None
) -> Outcome:
    """Turn points into a statement credit against a purchase, or replay the first answer to this reference.

    Raises LinkNotFound, InactiveLink, NotEligibleToRedeem, CurrencyMismatch, BelowMinimumTransactionAmount,
    BelowMinimumPoints, InvalidPointsIncrement, ExceedsMaximumPoints, ExceedsMaximumAmount,
    InsufficientPointBalance or TransactionAlreadyRedeemed, having written nothing. Commits.

    Eight statements in one transaction on SQLite: the locked read of link, card, programme, accounts and
    what the reference stored; two balance updates, the ledger transaction and its entries; the redemption;
    the statement line and the card's outstanding balance. On PostgreSQL the reference is looked up in a
    statement of its own after the lock (see ``lock_precedes_snapshot``): nine.
    """
    # Whatever depends on the request alone is done here, before the transaction takes the write lock.
    request_fingerprint = redemption_fingerprint(link_code, order)
    if merchant_name is None:
        merchant_name = _merchant_name(partner_client_id)
    order_id = _public_id("RDM")

    def write(locked: LockedCard) -> Outcome:
        body = _redeem(
            partner_client_id, merchant_name, locked.card, order, request_fingerprint, now, order_id=order_id
        )
        return Outcome(body, replayed=False)

    return replay_or_write(
        lambda: _lock_linked_card(partner_client_id, link_code, order.transaction_reference),
        lambda locked: _replay_redemption(partner_client_id, order.transaction_reference, request_fingerprint, locked),
        write,
    )


_STORED_REDEMPTION = sa.select(_redemptions.c.request_fingerprint, _redemptions.c.response_body).where(
    _redemptions.c.partner_client_id == sa.bindparam("partner_id"),
    _redemptions.c.transaction_reference == sa.bindparam("reference"),
)


def _stored_redemption(partner_client_id: int, transaction_reference: str) -> sa.Row | None:
    """The fingerprint and response stored for this reference, if it was used before."""
    return _FAST[_STORED_REDEMPTION].run({"partner_id": partner_client_id, "reference": transaction_reference}).first()


def _stored_for(locked: LockedCard, partner_client_id: int, transaction_reference: str) -> StoredAnswer | sa.Row | None:
    """What the reference stored: as the locking statement read it, or read now (after the lock)."""
    if locked.stored_read:
        return locked.stored
    return _stored_redemption(partner_client_id, transaction_reference)


def _replay_redemption(
    partner_client_id: int, transaction_reference: str, request_fingerprint: str, locked: LockedCard
) -> Outcome | None:
    conflict = TransactionAlreadyRedeemed(
        f"transactionReferenceNumber {transaction_reference} was already redeemed with a different request."
    )
    body = stored_response(_stored_for(locked, partner_client_id, transaction_reference), request_fingerprint, conflict)
    return None if body is None else Outcome(body, replayed=True)


def check_redemption(card: LinkedCard, order: RedemptionOrder, transaction_cents: int | None = None) -> int:
    """Every rule a redemption must meet before the debit; returns the credit in cents.

    ``transaction_cents``: the order's amount in cents, if the caller has it already.
    """
    _require_active(card)
    programme = _programme_of(card)
    if card.card_status != "ACTIVE":
        raise NotEligibleToRedeem(
            f"The card ending {card.last4} is {card.card_status.lower()}: it cannot redeem points."
        )
    if order.currency_code != programme.currency_code:
        raise CurrencyMismatch(f"The programme credits {programme.currency_code}, not {order.currency_code}.")
    if transaction_cents is None:
        transaction_cents = amount_to_cents(order.transaction_amount)
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
    merchant_name: str,
    card: LinkedCard,
    order: RedemptionOrder,
    request_fingerprint: str,
    now: datetime,
    channel: str = PARTNER_API,
    payment_row_id: int | None = None,
    order_id: str | None = None,
) -> str:
    """Write a redemption inside the caller's write transaction (the card's account locked); returns its body.

    Runs under SQLite's write lock, so it does only what needs the locked rows; ``order_id`` may be chosen
    before the transaction began (one is made here otherwise).
    """
    transaction_cents = amount_to_cents(order.transaction_amount)
    # Read under the account's lock (SQLite: the write lock), so the balance cannot change before the debit.
    credit = check_redemption(card, order, transaction_cents)
    if order_id is None:
        order_id = _public_id("RDM")
    connection = core_connection()
    try:
        transaction = ledger.move_points(
            "REDEEM",
            f"Pay with Points {order_id}: {order.description}",
            [
                ledger.AccountMovement(card.account_id, card.account_code, -order.points, guarded=True),
                ledger.AccountMovement(card.redemption_account_id, "", order.points, guarded=False),
            ],
            now,
            reference=order_id,
            connection=connection,
        )
    except ledger.InsufficientPoints:
        raise InsufficientPointBalance(
            f"The card holds {card.balance} points, fewer than the {order.points} requested."
        ) from None
    posting_date = now.date()
    body = _redemption_body(order_id, order.points, credit, transaction.balances[card.account_id], posting_date)
    # A concurrent twin on another card fails here, on the unique reference, before its statement line.
    _FAST[_INSERT_REDEMPTION].execute(
        connection,
        {
            "order_id": order_id,
            "partner_client_id": partner_client_id,
            "transaction_reference": order.transaction_reference,
            "request_fingerprint": request_fingerprint,
            "reward_link_id": card.link_id,
            "card_id": card.card_id,
            "points": order.points,
            "amount_cents": credit,
            "transaction_amount_cents": transaction_cents,
            "currency_code": order.currency_code,
            "description": order.description,
            "status": COMPLETED,
            "points_reversed": 0,
            "credit_posting_date": posting_date,
            "response_body": body,
            "ledger_transaction_id": transaction.id,
            "created_at": now,
            "channel": channel,
            "payment_id": payment_row_id,
        },
    )
    statement.post_card_line(
        card.card_id,
        statement.POINTS_CREDIT,
        credit,
        f"{_CREDIT_LINE_PREFIX[channel]}{order.description}",
        now,
        posting_date=posting_date,
        merchant_name=merchant_name,
        reference=order.transaction_reference,
        connection=connection,
    )
    return body


_CREDIT_LINE_PREFIX = {PARTNER_API: "Pay with Points credit: ", BANK_SITE: "Rewards site credit: "}


# --- The bank's own redemption site (the old flow): the same rules and ledger, another door ------------


@dataclass(frozen=True)
class Purchase:
    """A card purchase through the gateway, as the bank's site offers it for a statement credit."""

    payment_row_id: int
    payment_id: str
    partner_client_id: int
    merchant_name: str
    merchant_reference: str
    amount_cents: int
    currency_code: str
    created_at: datetime


@dataclass(frozen=True)
class SiteRedemption:
    """A redemption made on the bank's site: what its confirmation shows."""

    order_id: str
    points: int
    credit_cents: int
    available_points: int
    purchase: Purchase


_payments = Payment.__table__
_partners = PartnerClient.__table__
_PURCHASE_COLUMNS = (
    _payments.c.id,
    _payments.c.payment_id,
    _payments.c.partner_client_id,
    _partners.c.merchant_name,
    _payments.c.merchant_reference,
    _payments.c.amount_cents,
    _payments.c.currency_code,
    _payments.c.created_at,
)
# Redeemed already: a redemption of the merchant under the purchase's reference (either door writes one).
_PURCHASE_REDEEMED = (
    sa.select(_redemptions.c.id)
    .where(
        _redemptions.c.partner_client_id == _payments.c.partner_client_id,
        _redemptions.c.transaction_reference == _payments.c.merchant_reference,
    )
    .exists()
)


def _offered_purchases(card_id: int, now: datetime) -> sa.Select:
    """The card's captured, unrefunded purchases of the site's window that are large enough for points."""
    since = now - timedelta(days=BANK_SITE_PURCHASE_DAYS)
    return (
        sa.select(*_PURCHASE_COLUMNS)
        .select_from(_payments.join(_partners, _partners.c.id == _payments.c.partner_client_id))
        .where(
            _payments.c.card_id == card_id,
            _payments.c.status == "CAPTURED",
            _payments.c.refunded_cents == 0,
            _payments.c.amount_cents >= MINIMUM_TRANSACTION_CENTS,
            _payments.c.created_at > since,
        )
    )


def redeemable_purchases(card_id: int, now: datetime, limit: int = 20) -> list[Purchase]:
    """The card's recent purchases the bank's site may redeem against, newest first: not redeemed yet through
    either door, not refunded, at least the minimum transaction amount."""
    query = (
        _offered_purchases(card_id, now)
        .where(~_PURCHASE_REDEEMED)
        .order_by(_payments.c.created_at.desc(), _payments.c.id.desc())
        .limit(limit)
    )
    return [Purchase(*row) for row in db.session.execute(query)]


def _lock_site_purchase(
    site_client_id: int, link_code: str, payment_id: str, now: datetime
) -> tuple[LinkedCard, Purchase]:
    card = _lock_linked_card(site_client_id, link_code).card
    row = db.session.execute(_offered_purchases(card.card_id, now).where(_payments.c.payment_id == payment_id)).first()
    if row is None:
        raise PurchaseNotRedeemable("That purchase cannot be paid with points here: pick one from the list.")
    return card, Purchase(*row)


def _refuse_redeemed(purchase: Purchase) -> None:
    if _stored_redemption(purchase.partner_client_id, purchase.merchant_reference) is not None:
        raise PurchaseAlreadyRedeemed(
            f"Points were already redeemed against {purchase.merchant_name} {purchase.merchant_reference}."
        )


def redeem_on_bank_site(
    site_client_id: int, link_code: str, payment_id: str, points: int, now: datetime
) -> SiteRedemption:
    """Redeem points against one of the card's purchases from the bank's own site, and commit.

    ``link_code`` is the site's signed-in link (its OTP verified). The same checks and ledger as the partner
    API (``check_redemption``, ``_redeem``); the redemption is the merchant's, under the purchase's
    reference, so a purchase is redeemed once across both doors. Raises PurchaseNotRedeemable,
    PurchaseAlreadyRedeemed or any refusal of ``redeem``, having written nothing.
    """
    order_id = _public_id("RDM")  # before the transaction: nothing under the write lock that needs no lock

    def write(locked: tuple[LinkedCard, Purchase]) -> SiteRedemption:
        card, purchase = locked
        order = RedemptionOrder(
            transaction_reference=purchase.merchant_reference,
            transaction_amount=Decimal(cents_to_amount(purchase.amount_cents)),
            currency_code=purchase.currency_code,
            points=points,
            description=f"{purchase.merchant_name} {purchase.merchant_reference}"[:140],
        )
        request_fingerprint = fingerprint({"channel": BANK_SITE, "paymentId": purchase.payment_id, "points": points})
        body = _redeem(
            purchase.partner_client_id,
            purchase.merchant_name,
            card,
            order,
            request_fingerprint,
            now,
            channel=BANK_SITE,
            payment_row_id=purchase.payment_row_id,
            order_id=order_id,
        )
        answer = json.loads(body)
        return SiteRedemption(
            answer["orderId"],
            points,
            amount_to_cents(Decimal(answer["redeemedAmount"])),
            answer["availablePointBalance"],
            purchase,
        )

    def refuse_redeemed(locked: tuple[LinkedCard, Purchase]) -> None:
        _refuse_redeemed(locked[1])  # a purchase redeemed already is never "replayed" here: it is refused

    return replay_or_write(
        lambda: _lock_site_purchase(site_client_id, link_code, payment_id, now), refuse_redeemed, write
    )


def site_redemption(card_id: int, order_id: str) -> Redemption | None:
    """A bank-site redemption on this card (the site's confirmation shows only the signed-in card's)."""
    return db.session.scalar(
        sa.select(Redemption).where(
            Redemption.order_id == order_id, Redemption.card_id == card_id, Redemption.channel == BANK_SITE
        )
    )


# --- Look-ups -----------------------------------------------------------------------------------


def find_redemption(partner_client_id: int, order_id: str) -> Redemption:
    """The partner's redemption with this orderId; another partner's is not found either."""
    redemption = db.session.scalar(
        sa.select(Redemption).where(
            Redemption.order_id == order_id,
            Redemption.partner_client_id == partner_client_id,
            Redemption.channel == PARTNER_API,  # the merchant never sees what was redeemed on the bank's site
        )
    )
    if redemption is None:
        raise RedemptionNotFound(f"No redemption {order_id} for this client.")
    return redemption


def find_redemption_by_reference(partner_client_id: int, transaction_reference: str) -> Redemption:
    """The partner's redemption for this transactionReferenceNumber."""
    redemption = db.session.scalar(
        sa.select(Redemption).where(
            Redemption.partner_client_id == partner_client_id,
            Redemption.transaction_reference == transaction_reference,
            Redemption.channel == PARTNER_API,
        )
    )
    if redemption is None:
        raise RedemptionNotFound(f"No redemption with transactionReferenceNumber {transaction_reference}.")
    return redemption


def redemption_details(redemption: Redemption) -> dict[str, Any]:
    """A redemption as the look-ups show it now: its status, reversals and what is left to reverse."""
    return schemas.dump(
        schemas.Redemption(
            order_id=redemption.order_id,
            status=redemption.status,
            points_redeemed=redemption.points,
            redeemed_amount=cents_to_amount(redemption.amount_cents),
            available_point_balance=ledger.balance_of(redemption.card),
            credit_posting_date=redemption.credit_posting_date,
            transaction_reference=redemption.transaction_reference,
            transaction_amount=cents_to_amount(redemption.transaction_amount_cents),
            points_reversed=redemption.points_reversed,
            remaining_reversible_points=redemption.points - redemption.points_reversed,
            created_at=iso(redemption.created_at),
            reversals=[
                schemas.ReversalSummary(
                    reversal_id=reversal.reversal_id,
                    reversal_reference=reversal.reversal_reference,
                    points_reversed=reversal.points,
                    amount_reversed=cents_to_amount(reversal.amount_cents),
                    created_at=iso(reversal.created_at),
                )
                for reversal in redemption.reversals
            ],
        )
    )


# --- Reversal -----------------------------------------------------------------------------------


def reverse(partner_client_id: int, order: ReversalOrder, now: datetime, merchant_name: str | None = None) -> Outcome:
    """Give back some or all of a redemption's points and take back that part of the credit, or replay.

    Works whatever the link's state now. Raises RedemptionNotFound, ReversalAlreadyProcessed,
    ExceedsReversiblePoints or InvalidPointsIncrement, having written nothing. Commits.
    """
    # Whatever depends on the request alone is done here, before the transaction takes the write lock.
    request_fingerprint = reversal_fingerprint(order)
    if merchant_name is None:
        merchant_name = _merchant_name(partner_client_id)
    reversal_id = _public_id("RVS")

    def write(locked: LockedRedemption) -> Outcome:
        reversible = locked.row if locked.reads_done else None
        body = _reverse(
            partner_client_id, merchant_name, locked.row, order, request_fingerprint, now, reversible, reversal_id
        )
        return Outcome(body, replayed=False)

    return replay_or_write(
        lambda: _lock_redemption(partner_client_id, order.order_id, order.reversal_reference),
        lambda locked: _replay_reversal(partner_client_id, order.reversal_reference, request_fingerprint, locked),
        write,
    )


# The redemption with what a reversal needs, and the card's points account locked (as for a redemption).
_LOCKED_REDEMPTION = (
    sa.select(
        _redemptions.c.id,
        _redemptions.c.order_id,
        _redemptions.c.card_id,
        _redemptions.c.description,
        _programmes.c.point_increment,
        _card_accounts.c.id.label("account_id"),
        _card_accounts.c.code.label("account_code"),
        _redemption_accounts.c.id.label("redemption_account_id"),
        _redemption_accounts.c.code.label("redemption_account_code"),
    )
    .select_from(
        _redemptions.join(_cards, _cards.c.id == _redemptions.c.card_id)
        .join(_programmes, _programmes.c.id == _cards.c.programme_id)
        .join(_card_accounts, _card_accounts.c.card_id == _redemptions.c.card_id)
        .join(
            _redemption_accounts,
            _IS_PROGRAMMES_REDEMPTION_ACCOUNT,
        )
    )
    .where(
        _redemptions.c.order_id == sa.bindparam("order_id"),
        _redemptions.c.partner_client_id == sa.bindparam("pid"),
        _redemptions.c.channel == PARTNER_API,
    )
    .with_for_update(of=_card_accounts)
)
_stored_reversal_of_reference = _reversals.alias("stored")
# Where the lock precedes the snapshot (SQLite), the locking statement also reads what the reversal needs
# after the lock: the redemption's reversible points, and what the reversal reference stored (one row at most).
_LOCKED_REDEMPTION_AND_READS = (
    sa.select(
        *_LOCKED_REDEMPTION.selected_columns,
        _redemptions.c.points,
        _redemptions.c.points_reversed,
        _redemptions.c.amount_cents,
        _stored_reversal_of_reference.c.request_fingerprint.label("stored_fingerprint"),
        _stored_reversal_of_reference.c.response_body.label("stored_response"),
    )
    .select_from(
        _LOCKED_REDEMPTION.get_final_froms()[0].outerjoin(
            _stored_reversal_of_reference,
            sa.and_(
                _stored_reversal_of_reference.c.partner_client_id == sa.bindparam("pid"),
                _stored_reversal_of_reference.c.reversal_reference == sa.bindparam("reference"),
            ),
        )
    )
    .where(_LOCKED_REDEMPTION.whereclause)
    .with_for_update(of=_card_accounts)
)
# Elsewhere read after the lock, in a statement of its own: another reversal may have committed while we waited.
_REVERSIBLE = sa.select(
    _redemptions.c.order_id,
    _redemptions.c.points,
    _redemptions.c.points_reversed,
    _redemptions.c.amount_cents,
).where(_redemptions.c.id == sa.bindparam("redemption_row_id"))
_STORED_REVERSAL = sa.select(_reversals.c.request_fingerprint, _reversals.c.response_body).where(
    _reversals.c.partner_client_id == sa.bindparam("partner_id"),
    _reversals.c.reversal_reference == sa.bindparam("reference"),
)


# The money path's statements, each run by the shortest path its dialect allows (database.Prebuilt).
_REDEMPTION_COLUMNS = tuple(column.name for column in _redemptions.columns if column.name != "id")
_REVERSAL_COLUMNS = tuple(column.name for column in _reversals.columns if column.name != "id")
_FAST = {
    statement: Prebuilt(statement)
    for statement in (
        _LINKED_CARD,
        _LOCKED_LINKED_CARD,
        _LOCKED_LINKED_CARD_AND_STORED,
        _STORED_REDEMPTION,
        _LOCKED_REDEMPTION,
        _LOCKED_REDEMPTION_AND_READS,
        _REVERSIBLE,
        _STORED_REVERSAL,
        _RECORD_REVERSAL,
    )
}
_FAST[_INSERT_REDEMPTION] = Prebuilt(_INSERT_REDEMPTION, _REDEMPTION_COLUMNS)
_FAST[_INSERT_REVERSAL] = Prebuilt(_INSERT_REVERSAL, _REVERSAL_COLUMNS)


@dataclass(frozen=True)
class LockedRedemption:
    """A redemption locked for a reversal, and what the locking statement could read after the lock."""

    row: sa.Row
    reads_done: bool  # the row holds the reversible points and the reference's stored answer too
    stored: StoredAnswer | None = None


def _lock_redemption(partner_client_id: int, order_id: str, reversal_reference: str) -> LockedRedemption:
    reads_in_lock = lock_precedes_snapshot()  # asked once, before the lock: it looks the engine up
    if reads_in_lock:
        params = {"order_id": order_id, "pid": partner_client_id, "reference": reversal_reference}
        locked = _FAST[_LOCKED_REDEMPTION_AND_READS].run(params).first()
    else:
        locked = _FAST[_LOCKED_REDEMPTION].run({"order_id": order_id, "pid": partner_client_id}).first()
    if locked is None:
        find_redemption(partner_client_id, order_id)  # raises RedemptionNotFound
        raise RedemptionNotFound(f"Redemption {order_id} has no points accounts to reverse against.")
    if reads_in_lock:
        return LockedRedemption(locked, reads_done=True, stored=_stored_of(locked))
    return LockedRedemption(locked, reads_done=False)


def _stored_reversal(partner_client_id: int, reversal_reference: str) -> sa.Row | None:
    """The fingerprint and response stored for this reversal reference, if it was used before."""
    return _FAST[_STORED_REVERSAL].run({"partner_id": partner_client_id, "reference": reversal_reference}).first()


def _stored_reversal_for(
    locked: LockedRedemption, partner_client_id: int, reversal_reference: str
) -> StoredAnswer | sa.Row | None:
    """What the reversal reference stored: as the locking statement read it, or read now (after the lock)."""
    if locked.reads_done:
        return locked.stored
    return _stored_reversal(partner_client_id, reversal_reference)


def _replay_reversal(
    partner_client_id: int, reversal_reference: str, request_fingerprint: str, locked: LockedRedemption
) -> Outcome | None:
    conflict = ReversalAlreadyProcessed(
        f"reversalReferenceNumber {reversal_reference} was already used with a different request."
    )
    stored = _stored_reversal_for(locked, partner_client_id, reversal_reference)
    body = stored_response(stored, request_fingerprint, conflict)
    return None if body is None else Outcome(body, replayed=True)


def amount_reversed_so_far(redemption: Redemption | sa.Row) -> int:
    """The credit taken back by the reversals so far, without summing them.

    Every reversal but the last is exactly pro rata (``reversal_cents`` refuses one that is not), so while
    points remain the amount reversed is exactly ``amount × points_reversed / points``; the last reversal
    takes whatever is left. No scan of the reversals, however many there were.
    """
    return redemption.amount_cents * redemption.points_reversed // redemption.points


def reversal_cents(redemption: Redemption | sa.Row, points: int, amount_reversed_cents: int, increment: int) -> int:
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
    merchant_name: str,
    locked: sa.Row,
    order: ReversalOrder,
    request_fingerprint: str,
    now: datetime,
    reversible: sa.Row | None = None,
    reversal_id: str | None = None,
) -> str:
    """Post the reversal; ``reversible``: the redemption's points as read after the lock (else read here).

    Runs under SQLite's write lock; ``reversal_id`` may be chosen before the transaction began.
    """
    connection = core_connection()
    if reversible is None:
        reversible = _FAST[_REVERSIBLE].execute(connection, {"redemption_row_id": locked.id}).one()
    amount = reversal_cents(reversible, order.points, amount_reversed_so_far(reversible), locked.point_increment)
    if reversal_id is None:
        reversal_id = _public_id("RVS")
    transaction = ledger.move_points(
        "REVERSE",
        f"Pay with Points reversal of {locked.order_id}",
        [
            ledger.AccountMovement(locked.account_id, locked.account_code, order.points, guarded=False),
            ledger.AccountMovement(
                locked.redemption_account_id, locked.redemption_account_code, -order.points, guarded=False
            ),
        ],
        now,
        reference=reversal_id,
        connection=connection,
    )
    points_reversed = reversible.points_reversed + order.points
    remaining = reversible.points - points_reversed
    _FAST[_RECORD_REVERSAL].execute(
        connection,
        {
            "redemption_row_id": locked.id,
            "new_points_reversed": points_reversed,
            "new_status": REVERSED if remaining == 0 else PARTIALLY_REVERSED,
        },
    )
    body = _reversal_body(reversal_id, order.points, amount, remaining, transaction.balances[locked.account_id])
    _FAST[_INSERT_REVERSAL].execute(
        connection,
        {
            "reversal_id": reversal_id,
            "redemption_id": locked.id,
            "partner_client_id": partner_client_id,
            "reversal_reference": order.reversal_reference,
            "request_fingerprint": request_fingerprint,
            "points": order.points,
            "amount_cents": amount,
            "response_body": body,
            "ledger_transaction_id": transaction.id,
            "created_at": now,
        },
    )
    statement.post_card_line(
        locked.card_id,
        statement.POINTS_CREDIT_REVERSAL,
        amount,
        f"Pay with Points credit reversed: {locked.description}",
        now,
        posting_date=now.date(),
        merchant_name=merchant_name,
        reference=order.reversal_reference,
        connection=connection,
    )
    return body


# --- A refund of a purchase redeemed against on the bank's site ----------------------------------
#
# The merchant cannot see a bank-site redemption, so it cannot reverse one: the bank does, as a card issuer does
# when a purchase it credited points against is returned. The rule:
# - the refund that makes the payment fully refunded reverses whatever is left of the bank-site redemption made
#   against it: the points go back to the cardholder and the statement credit is reversed on the statement, as
#   one more REVERSE ledger transaction (append-only), in the refund's own database transaction;
# - a partial refund reverses nothing: the cardholder still paid for part of the purchase and keeps the credit
#   they chose (points cannot be split pro rata into exact cents and increments in general, so no proportional
#   reversal); the last refund that completes it reverses the whole redemption.
# - A redemption at the merchant's checkout (partner API) is left alone: the merchant sees it and reverses it
#   itself through the reversals call (the shop does so when it cancels an order).
# Idempotent: a replayed refund is answered from the stored refund and never gets here; a redemption with no
# points left to reverse is left as it is.

_LOCKED_SITE_REDEMPTION_OF_PAYMENT = (
    sa.select(*_LOCKED_REDEMPTION.selected_columns, _redemptions.c.partner_client_id)
    .select_from(*_LOCKED_REDEMPTION.get_final_froms())
    .where(
        _redemptions.c.payment_id == sa.bindparam("payment_row_id"),
        _redemptions.c.channel == BANK_SITE,
        _redemptions.c.points_reversed < _redemptions.c.points,
    )
    .with_for_update(of=_card_accounts)
)


def lock_points_account_for_refund(card_id: int) -> None:
    """Take the card's points-account lock before a refund changes the card, as a redemption takes it first.

    A bank-site redemption locks the account, then reads the purchase; a refund that took the account after it
    could miss a redemption committing meanwhile (or, once both touch the card, deadlock). With this lock taken
    first, one waits for the other: the site then sees the purchase refunded, or the refund sees the redemption.
    """
    db.session.execute(
        sa.select(_card_accounts.c.id).where(_card_accounts.c.card_id == card_id).with_for_update(of=_card_accounts)
    )


def reverse_site_redemption_of_refund(
    payment_row_id: int, refund_id: str, merchant_name: str, now: datetime
) -> str | None:
    """Reverse what is left of the bank-site redemption against a payment that was just refunded in full.

    Part of the refund's transaction (the caller commits): returns the reversal's response body, or None when
    the payment has no bank-site redemption with points left to reverse. The reversal's reference is the
    refund's id, so it shows on the statement next to the refund it follows.
    """
    locked = db.session.execute(_LOCKED_SITE_REDEMPTION_OF_PAYMENT, {"payment_row_id": payment_row_id}).first()
    if locked is None:
        return None
    reversible = db.session.execute(_REVERSIBLE, {"redemption_row_id": locked.id}).one()
    order = ReversalOrder(locked.order_id, refund_id, reversible.points - reversible.points_reversed)
    request_fingerprint = fingerprint({"refundId": refund_id, "orderId": locked.order_id, "points": order.points})
    return _reverse(locked.partner_client_id, merchant_name, locked, order, request_fingerprint, now)
