"""Sandbox controls: the levers a tester pulls in the console or through /sandbox/api.

Plain functions with plain arguments (no ``flask.request``): freeze and unfreeze a card, adjust points as a
ledger transaction, create a test cardholder, manage fault rules, unlink a reward link, move the clock and
reset to the seed state. Every changing call is one database transaction: it commits on success and rolls
back (writing nothing) when it raises. Bad input raises ``InvalidControl`` with a message fit for a person.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import LazyString, format_decimal
from flask_babel import lazy_gettext as _l
from werkzeug.routing import Rule

from . import clock, faults, ledger, links, seed, statement
from .errors import RuleError
from .extensions import db
from .models import (
    Card,
    CardStatementLine,
    FaultRule,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Programme,
    RewardLink,
)

FROZEN = "FROZEN"
ACTIVE = "ACTIVE"

# Paths whose endpoints take fault rules: the partner API and the card gateway.
FAULTABLE_PREFIXES = ("/v1/", "/gcb/", "/gateway/")

MAX_ADJUSTMENT = 100_000_000
MAX_OPENING_POINTS = 100_000_000
MAX_CREDIT_LIMIT_CENTS = 1_000_000_000  # HK$10 million
MAX_LATENCY_MS = 60_000
MAX_FAIL_TIMES = 1000
MAX_CLOCK_MINUTES = 60 * 24 * 366
REASON_MAX_LENGTH = 150  # the ledger description is "Adjustment: <reason>" in 200 characters

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z .'-]{1,79}$")
MOBILE_PATTERN = re.compile(r"^[4-9][0-9]{7}$")  # Hong Kong mobile numbers: 8 digits from 4 to 9
ERROR_CODE_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,59}$")

# Card number prefixes by programme: 4966 + two digits, as the seed's test cards use them.
CARD_PREFIXES = {"REWARDS": "496601", "PREMIER": "496602", None: "496603"}


class ControlError(RuleError):
    """Base of the sandbox controls' named failures.

    Raised with a translatable message and its parameters: ``str()`` (the API's English ``details``) is the
    English text, and ``shown()`` is the text for a console page, in its language with numbers as it writes them.
    """

    sandbox_only = True

    def __init__(self, message: str, **params: object) -> None:
        self.message, self.params = message, params
        english = message._args[0] if isinstance(message, LazyString) else str(message)
        super().__init__(english % {key: _english(value) for key, value in params.items()} if params else english)

    def shown(self) -> str:
        """The message in the current locale (English outside a request)."""
        text = str(self.message)
        return text % {key: _localised(value) for key, value in self.params.items()} if self.params else text


def _english(value: object) -> str:
    if isinstance(value, LazyString):
        return value._args[0]
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _localised(value: object) -> str:
    return format_decimal(value) if isinstance(value, int) and not isinstance(value, bool) else str(value)


class InvalidControl(ControlError):
    """The tester asked for something the sandbox cannot do; the message says what to change."""

    status = 422
    code = "invalidControl"


class CardNotFound(ControlError):
    """No card ends in these four digits."""

    status = 404
    code = "cardNotFound"


class FaultNotFound(ControlError):
    """No fault rule has this id."""

    status = 404
    code = "faultNotFound"


class LinkNotFound(ControlError):
    """No reward link has this id."""

    status = 404
    code = "linkNotFound"


class PointsShortfall(ControlError):
    """A negative adjustment larger than the card's balance (the ledger never goes below zero)."""

    status = 422
    code = "inSufficientPointBalance"


class LinkAlreadyUnlinked(InvalidControl):
    """The link was unlinked before; there is nothing left to end."""

    status = 409
    code = "alreadyUnlinked"


@contextmanager
def _one_transaction() -> Iterator[None]:
    """Commit what the block wrote, or roll all of it back if the block raises."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


# --- Cards --------------------------------------------------------------------------------------


def find_card(last4: str) -> Card:
    """The card ending in ``last4`` (test cards are created with distinct last four digits)."""
    if not re.fullmatch(r"[0-9]{4}", last4 or ""):
        raise CardNotFound(_l("No card ends in %(last4)s."), last4=repr(last4))
    card = db.session.scalar(sa.select(Card).where(Card.last4 == last4).order_by(Card.id))
    if card is None:
        raise CardNotFound(_l("No card ends in %(last4)s."), last4=last4)
    return card


def all_cards() -> list[Card]:
    """Every card, in the order they were issued."""
    return list(db.session.scalars(sa.select(Card).order_by(Card.id)))


def points_balances() -> dict[int, int]:
    """Points balance by card id, for cards with a points account."""
    rows = db.session.execute(
        sa.select(LedgerAccount.card_id, LedgerAccount.balance).where(LedgerAccount.card_id.is_not(None))
    ).all()
    return {card_id: balance for card_id, balance in rows}


def set_card_status(card: Card, status: str) -> Card:
    """Freeze (FROZEN) or unfreeze (ACTIVE) a card; asking for its current status changes nothing."""
    if status not in (ACTIVE, FROZEN):
        raise InvalidControl(
            _l("A card is %(active)s or %(frozen)s, not %(status)s."), active=ACTIVE, frozen=FROZEN, status=repr(status)
        )
    with _one_transaction():
        card.status = status
    return card


def freeze_card(card: Card) -> Card:
    """Freeze the card: payments are declined cardFrozen and enrolment is notEligibleToRedeem."""
    return set_card_status(card, FROZEN)


def unfreeze_card(card: Card) -> Card:
    """Make a frozen card usable again."""
    return set_card_status(card, ACTIVE)


def adjust_points(card: Card, delta: int, reason: str, now: datetime) -> LedgerTransaction:
    """Add (positive) or remove (negative) points as one ADJUST ledger transaction with the tester's reason.

    Raises InvalidControl for bad input and PointsShortfall when the card lacks the points; either way
    nothing is written.
    """
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise InvalidControl(_l("The points change must be a whole number."))
    if delta == 0:
        raise InvalidControl(_l("The points change must not be zero."))
    if abs(delta) > MAX_ADJUSTMENT:
        raise InvalidControl(_l("The points change must be at most %(most)s either way."), most=MAX_ADJUSTMENT)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidControl(_l("Give a reason for the adjustment."))
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidControl(_l("The reason must be at most %(most)s characters."), most=str(REASON_MAX_LENGTH))
    if card.programme is None:
        raise InvalidControl(_l("Card ending %(last4)s is not in a points programme."), last4=card.last4)
    try:
        with _one_transaction():
            transaction = ledger.adjust_points(card, delta, reason, now)
    except ledger.InsufficientPoints:
        raise PointsShortfall(
            _l("Card ending %(last4)s does not hold %(points)s points."), last4=card.last4, points=-delta
        ) from None
    return transaction


@dataclass(frozen=True)
class LedgerLine:
    """One entry of a card's points account, with the transaction it belongs to."""

    entry_id: int
    transaction_id: int
    created_at: datetime
    kind: str
    description: str
    reference: str
    amount: int
    balance_after: int


def card_ledger(card: Card) -> list[LedgerLine]:
    """Every entry of the card's points account, oldest first, each with its running balance."""
    entries = db.session.scalars(
        sa.select(LedgerEntry)
        .join(LedgerAccount, LedgerEntry.account_id == LedgerAccount.id)
        .where(LedgerAccount.card_id == card.id)
        .order_by(LedgerEntry.id)
    )
    return [
        LedgerLine(
            entry_id=entry.id,
            transaction_id=entry.transaction_id,
            created_at=entry.created_at,
            kind=entry.transaction.kind,
            description=entry.transaction.description,
            reference=entry.transaction.reference,
            amount=entry.amount,
            balance_after=entry.balance_after,
        )
        for entry in entries
    ]


def card_statement(card: Card) -> list[CardStatementLine]:
    """The card's statement lines as the cardholder sees them, oldest first."""
    return statement.lines_for(card)


# --- Test cardholders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewCardholder:
    """What the tester asks for; ``programme`` is REWARDS, PREMIER or None (a debit card without points)."""

    name: str
    mobile: str
    programme: str | None
    points: int
    credit_limit_cents: int


def luhn_check_digit(partial: str) -> str:
    """The digit that makes ``partial`` + digit pass the Luhn check."""
    total = 0
    for index, char in enumerate(reversed(partial)):
        digit = int(char)
        if index % 2 == 0:  # these positions are doubled once the check digit is appended
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def generate_card_number(programme: str | None) -> str:
    """A fresh 16-digit Luhn-valid 4966... number whose last four digits no other card has."""
    taken = set(db.session.scalars(sa.select(Card.last4)))
    prefix = CARD_PREFIXES[programme] + "9"  # 9: never the seed cards' range
    for _ in range(200):
        body = prefix + "".join(str(secrets.randbelow(10)) for _ in range(15 - len(prefix)))
        number = body + luhn_check_digit(body)
        if number[-4:] not in taken:
            return number
    raise InvalidControl(_l("No free card number is left; reset the sandbox."))


def normalise_mobile(mobile: str) -> str:
    """'9123 4567' -> '91234567' (spaces and dashes are how people type it)."""
    return re.sub(r"[\s-]", "", mobile or "")


def validate_new_cardholder(wanted: NewCardholder) -> NewCardholder:
    """Check the request and return it normalised (upper-case name, digits-only mobile)."""
    name = " ".join((wanted.name or "").split()).upper()
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidControl(_l("The name must be 2 to 80 letters (spaces, dots, dashes and apostrophes allowed)."))
    mobile = normalise_mobile(wanted.mobile)
    if not MOBILE_PATTERN.fullmatch(mobile):
        raise InvalidControl(_l("The mobile number must be 8 digits starting with 4 to 9, e.g. 9123 4567."))
    programme = wanted.programme or None
    if programme is not None and programme not in CARD_PREFIXES:
        raise InvalidControl(_l("The programme must be REWARDS, PREMIER or none."))
    for value, label in ((wanted.points, _l("Opening points")), (wanted.credit_limit_cents, _l("The credit limit"))):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidControl(_l("%(label)s must be a whole number."), label=label)
        if value < 0:
            raise InvalidControl(_l("%(label)s must not be negative."), label=label)
    if wanted.points > MAX_OPENING_POINTS:
        raise InvalidControl(_l("Opening points must be at most %(most)s."), most=MAX_OPENING_POINTS)
    if programme is None and wanted.points:
        raise InvalidControl(_l("A card without a points programme cannot hold points."))
    if wanted.credit_limit_cents > MAX_CREDIT_LIMIT_CENTS:
        raise InvalidControl(_l("The credit limit must be at most HK$10,000,000."))
    return NewCardholder(name, mobile, programme, wanted.points, wanted.credit_limit_cents)


def create_test_cardholder(wanted: NewCardholder, now: datetime) -> Card:
    """Create a cardholder with one new card and its opening points (a ledger ISSUE transaction)."""
    wanted = validate_new_cardholder(wanted)
    programme = None
    if wanted.programme is not None:
        programme = db.session.scalar(sa.select(Programme).where(Programme.code == wanted.programme))
        if programme is None:
            raise InvalidControl(
                _l("The %(programme)s programme does not exist; reset the sandbox."), programme=wanted.programme
            )
    with _one_transaction():
        seed_card = seed.SeedCard(
            number=generate_card_number(wanted.programme),
            holder=wanted.name,
            phone=wanted.mobile,
            points=wanted.points if programme is not None else None,
            programme=wanted.programme,
            behaviour="Test cardholder created in the sandbox console",
            kind="credit" if programme is not None else "debit",
            credit_limit_cents=wanted.credit_limit_cents,
        )
        card = seed.create_seed_cardholder(seed_card, programme, now)
    return card


# --- Fault rules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultEndpoint:
    """An endpoint a fault can target: its Flask endpoint name and how it is called."""

    name: str
    methods: str
    path: str


def faultable_endpoints(rules: Iterable[Rule]) -> list[FaultEndpoint]:
    """The partner API and gateway endpoints among the app's URL rules, in path order."""
    found: dict[str, FaultEndpoint] = {}
    for rule in rules:
        if not rule.rule.startswith(FAULTABLE_PREFIXES):
            continue
        methods = ",".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        if rule.endpoint not in found:
            found[rule.endpoint] = FaultEndpoint(rule.endpoint, methods, rule.rule)
    return sorted(found.values(), key=lambda endpoint: (endpoint.path, endpoint.methods))


@dataclass(frozen=True)
class FaultSpec:
    """A requested fault. ``fail_times`` is how many calls it affects before the endpoint recovers (None: until
    the rule is removed), whatever the fault, as ``faults.take_fault`` counts them."""

    endpoint: str
    latency_ms: int = 0
    error_status: int | None = None
    error_code: str | None = None
    fail_times: int | None = None
    drop_response_after_commit: bool = False


def _whole(value: object, label: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidControl(_l("%(label)s must be a whole number."), label=label)
    if not low <= value <= high:
        raise InvalidControl(_l("%(what)s must be between %(low)s and %(high)s."), what=label, low=low, high=high)
    return value


def validate_fault(spec: FaultSpec, endpoints: Iterable[str]) -> FaultSpec:
    """Check a fault request against the known endpoints and the rules of what a fault can do."""
    if spec.endpoint not in set(endpoints):
        raise InvalidControl(
            _l("Unknown endpoint %(endpoint)s: pick one of the partner API or gateway endpoints."),
            endpoint=repr(spec.endpoint),
        )
    latency = _whole(spec.latency_ms, _l("Added latency"), 0, MAX_LATENCY_MS)
    status = spec.error_status
    code = (spec.error_code or "").strip() or None
    if status is not None:
        status = _whole(status, _l("The forced status"), 400, 599)
        if code is None:
            raise InvalidControl(_l("A forced status needs an error code, e.g. serviceUnavailable."))
    if code is not None:
        if status is None:
            raise InvalidControl(_l("An error code needs a forced status."))
        if not ERROR_CODE_PATTERN.fullmatch(code):
            raise InvalidControl(_l("The error code must be letters and digits, starting with a letter (≤ 60)."))
    drop = spec.drop_response_after_commit
    if not isinstance(drop, bool):
        raise InvalidControl(_l("'Commit then drop the response' is true or false."))
    if drop and status is not None:
        # A forced error answers before the handler runs; a dropped response needs the handler to commit.
        raise InvalidControl(_l("Choose either a forced error or 'commit then drop the response', not both."))
    fail_times = spec.fail_times
    if fail_times is not None:
        fail_times = _whole(fail_times, _l("Fail this many times"), 1, MAX_FAIL_TIMES)
    if latency == 0 and status is None and not drop:
        raise InvalidControl(_l("A fault must add latency, force an error or drop the response."))
    return FaultSpec(spec.endpoint, latency, status, code, fail_times, drop)


def create_fault(spec: FaultSpec, endpoints: Iterable[str], now: datetime) -> FaultRule:
    """Add a fault rule to an endpoint (rules apply until removed or their failures run out)."""
    spec = validate_fault(spec, endpoints)
    with _one_transaction():
        rule = faults.add_rule(
            spec.endpoint,
            now,
            latency_ms=spec.latency_ms,
            error_status=spec.error_status,
            error_code=spec.error_code,
            remaining_failures=spec.fail_times,
            drop_response_after_commit=spec.drop_response_after_commit,
        )
    return rule


def list_faults() -> list[FaultRule]:
    return list(db.session.scalars(sa.select(FaultRule).order_by(FaultRule.id)))


def find_fault(fault_id: int) -> FaultRule:
    rule = db.session.get(FaultRule, fault_id)
    if rule is None:
        raise FaultNotFound(_l("There is no fault rule %(id)s."), id=str(fault_id))
    return rule


def delete_fault(fault_id: int) -> None:
    """Remove a fault rule; the endpoint behaves normally again."""
    rule = find_fault(fault_id)
    with _one_transaction():
        db.session.delete(rule)


def describe_fault(rule: FaultRule) -> str:
    """A one-line summary, e.g. 'HTTP 503 serviceUnavailable; +1500 ms; next 2 calls' (the sandbox API's English;
    the console shows it in the page's language with console.controls.shown_fault)."""
    parts = []
    if rule.error_status is not None:
        parts.append(f"HTTP {rule.error_status} {rule.error_code or ''}".strip())
    if rule.drop_response_after_commit:
        parts.append("commit, then drop the response")
    if rule.latency_ms:
        parts.append(f"+{rule.latency_ms} ms")
    if rule.remaining_failures is None:
        parts.append("until removed")
    else:
        parts.append(f"next {rule.remaining_failures} call" + ("" if rule.remaining_failures == 1 else "s"))
    return "; ".join(parts)


# --- Links --------------------------------------------------------------------------------------


def list_links(status: str | None = None) -> list[RewardLink]:
    """Reward links, grouped by merchant and customer reference, newest first within a customer."""
    query = sa.select(RewardLink).order_by(
        RewardLink.partner_client_id, RewardLink.merchant_customer_reference, RewardLink.id.desc()
    )
    if status:
        query = query.where(RewardLink.status == status)
    return list(db.session.scalars(query))


def unlink(link_id: int, now: datetime) -> RewardLink:
    """End a link as the merchant's DELETE would; the customer must enrol (and verify) again."""
    link = db.session.get(RewardLink, link_id)
    if link is None:
        raise LinkNotFound(_l("There is no link %(id)s."), id=str(link_id))
    if link.status == "UNLINKED":
        raise LinkAlreadyUnlinked(_l("This link is already unlinked."))
    links.unlink(link, now)  # one transaction of its own
    return link


# --- Clock, reset, ledger health ----------------------------------------------------------------


def advance_clock(minutes: int) -> int:
    """Move the sandbox clock forward by whole minutes; returns the new offset in seconds."""
    minutes = _whole(minutes, _l("Minutes"), 1, MAX_CLOCK_MINUTES)
    with _one_transaction():
        offset = clock.advance(minutes * 60)
    return offset


def reset_to_seed() -> None:
    """Throw everything away and restore the seed state (seed commits)."""
    seed.reset_database()


@dataclass(frozen=True)
class LedgerHealth:
    issued: int
    redeemed: int
    reversed: int
    liability: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_health() -> LedgerHealth:
    """Programme-wide totals and the result of the ledger check."""
    totals = ledger.totals()
    return LedgerHealth(totals.issued, totals.redeemed, totals.reversed, totals.liability, ledger.check_ledger())
