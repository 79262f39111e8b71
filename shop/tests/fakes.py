"""FakeIssuerClient: Summit Bank in memory, with the IssuerClient's methods, for the shop's unit tests.

It records every call in ``calls`` and simulates the test cards of DESIGN.md: balances, links, OTPs, declines,
idempotent references. Faults are injected per method:

- ``fail_before(method, error)``: the next call raises ``error`` and changes nothing (e.g. the bank is down);
- ``fail_after(method, error)``: the next call does its work, then raises ``error`` (a dropped response);
- ``during(method, action)``: the next call first runs ``action()`` (e.g. another tab acting meanwhile);
- ``alter_answer(method, change)``: the next answer's JSON body is passed to ``change(body)`` before the shop
  reads it (e.g. a field dropped: the bank breaking its contract).

Every answer goes through the same models as the real client: the fake builds each body with the model of
``shop/issuer_models.py``, writes it as JSON, and the client's own ``parse_answer`` reads it back, so a field
the client requires cannot be forgotten here. Refusals are error bodies ``{type, code, details}`` turned into
exceptions by the client's ``parse_error``, so the fake and the client agree on which code is which exception.

Every call also checks that the shop holds no database lock while it waits on the bank: inside an app context
on SQLite, it takes the write lock from a separate connection with a short timeout (``LockHeldDuringIssuerCall``
if that fails), as another shopper's request would. ``lock_probes`` counts the checks made.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from flask import has_app_context

from shop.extensions import db
from shop.issuer_client import (
    Balance,
    Enrollment,
    IssuerError,
    IssuerUnavailable,
    OtpResent,
    Payment,
    Redemption,
    Refund,
    Reversal,
    cents_to_amount,
    parse_answer,
    parse_error,
)
from shop.issuer_models import (
    ActivationAnswer,
    Answer,
    BalanceAnswer,
    CardSummary,
    EnrollmentAnswer,
    ErrorAnswer,
    OtpResentAnswer,
    PaymentAnswer,
    PaymentListAnswer,
    RedemptionAnswer,
    RedemptionDetailsAnswer,
    RefundAnswer,
    ReversalAnswer,
    ReversalEntry,
)

NOW = datetime(2026, 11, 26, 9, 0, 0)
MONEY_METHODS = frozenset({"redeem", "reverse", "pay", "refund"})  # a 5xx or an unreadable answer: outcome unknown
LOCK_PROBE_TIMEOUT_SECONDS = 0.2
AnswerModel = TypeVar("AnswerModel", bound=Answer)


class LockHeldDuringIssuerCall(AssertionError):
    """The shop kept a transaction (SQLite's write lock) open while calling the bank."""


def assert_database_writable(method: str) -> bool:
    """Check that this process holds no write lock during an issuer call, as a concurrent shopper would find.

    On an SQLite file: take and release the write lock from another connection. On PostgreSQL (no database-wide
    write lock): the session's open transaction, if any, must not have written or locked a row yet, which is
    when PostgreSQL gives it a transaction id. Returns False when there is no app context or nothing to check.
    """
    if not has_app_context():
        return False
    url = db.engine.url
    if url.get_backend_name() == "postgresql":
        return _assert_no_row_locks(method)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return False
    connection = sqlite3.connect(url.database, timeout=LOCK_PROBE_TIMEOUT_SECONDS, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    except sqlite3.OperationalError as error:
        raise LockHeldDuringIssuerCall(f"The database is locked during the issuer call {method}: {error}") from None
    finally:
        connection.close()
    return True


def _assert_no_row_locks(method: str) -> bool:
    session = db.session()
    if not session.in_transaction():
        return True
    xid = session.connection().exec_driver_sql("SELECT pg_current_xact_id_if_assigned()").scalar()
    if xid is not None:
        raise LockHeldDuringIssuerCall(
            f"The database is locked during the issuer call {method}: transaction {xid} has written and is open"
        )
    return True


@dataclass
class FakeCard:
    number: str
    phone: str
    points: int | None  # None: no points programme
    rate: Decimal = Decimal("0.004")
    increment: int = 25
    minimum: int = 1000
    summit: bool = True
    frozen: bool = False
    credit_limit_cents: int = 5_000_000
    sms_deliverable: bool = True

    @property
    def last4(self) -> str:
        return self.number[-4:]


def seed_cards() -> dict[str, FakeCard]:
    """The sandbox test cards of DESIGN.md."""
    cards = [
        FakeCard("4966010000008741", "91234567", 120_000),
        FakeCard("4966010000000102", "92345678", 800),
        FakeCard("4966020000001190", "93456789", 2_000_000, rate=Decimal("0.005"), increment=20),
        FakeCard("4966030000004300", "94567890", None),
        FakeCard("4966010000007404", "95678901", 50_000, frozen=True),
        FakeCard("4966010000005051", "96789012", 60_000, credit_limit_cents=10_000),
        FakeCard("4966010000007909", "90000000", 40_000, sms_deliverable=False),
        FakeCard("4242424242424242", "", None, summit=False),
    ]
    return {card.number: card for card in cards}


@dataclass
class FakeLink:
    code: str
    customer_reference: str
    card: FakeCard
    status: str = "PENDING_ACTIVATION"
    otp: str = ""
    otp_sent_at: datetime = NOW
    failed_attempts: int = 0
    resends_used: int = 0


@dataclass
class FakeReversal:
    reversal_id: str
    reference: str
    points: int
    amount_cents: int


@dataclass
class FakeRedemption:
    order_id: str
    reference: str
    request: tuple
    card: FakeCard
    points: int
    amount_cents: int
    posted_on: date
    reversals: list[FakeReversal] = field(default_factory=list)


def error_type(status: int) -> str:
    """The error ``type`` of DESIGN.md's tables: invalid (the request), error (a rule or state), fatal (retry)."""
    if status in (400, 413, 415):
        return "invalid"
    return "fatal" if status == 429 or status >= 500 else "error"


class FakeIssuerClient:
    """Summit Bank in memory: the IssuerClient's interface, behaviour of the sandbox, faults on demand."""

    otp_ttl = timedelta(minutes=5)
    resend_cooldown = timedelta(seconds=30)

    def __init__(self) -> None:
        self.cards = seed_cards()
        self.links: dict[str, FakeLink] = {}
        self.sms: list[tuple[str, str]] = []  # (phone, otp), oldest first
        self.redemptions: dict[str, FakeRedemption] = {}  # by reference
        self.reversals: dict[str, tuple[tuple, ReversalAnswer]] = {}  # by reversal reference
        self.payments: dict[str, tuple[tuple, PaymentAnswer]] = {}  # by idempotency key
        self.refunds: dict[tuple[str, str], tuple[int, RefundAnswer]] = {}  # by (payment id, key)
        self.refunded: dict[str, int] = defaultdict(int)  # payment id -> cents refunded
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.now = NOW
        self._before: dict[str, list[Exception]] = defaultdict(list)
        self._after: dict[str, list[Exception]] = defaultdict(list)
        self._during: dict[str, list[Callable[[], Any]]] = defaultdict(list)
        self._alterations: dict[str, list[Callable[[dict[str, Any]], Any]]] = defaultdict(list)
        self.down = False
        self.check_locks = True
        self.lock_probes: list[str] = []  # the calls during which the database was found writable

    # Test controls ----------------------------------------------------------------------------

    def fail_before(self, method: str, error: Exception, times: int = 1) -> None:
        self._before[method].extend([error] * times)

    def fail_after(self, method: str, error: Exception, times: int = 1) -> None:
        self._after[method].extend([error] * times)

    def during(self, method: str, action: Callable[[], Any]) -> None:
        self._during[method].append(action)

    def alter_answer(self, method: str, change: Callable[[dict[str, Any]], Any]) -> None:
        """The next answer of ``method`` is changed on the wire: ``change`` edits the JSON body in place."""
        self._alterations[method].append(change)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == method]

    def last_otp(self, phone: str) -> str:
        return next(otp for sent_to, otp in reversed(self.sms) if sent_to == phone)

    def points_of(self, number: str) -> int | None:
        return self.cards[number].points

    def advance(self, **delta: int) -> None:
        self.now += timedelta(**delta)

    def _enter(self, method: str, **kwargs: Any) -> None:
        self.calls.append((method, kwargs))
        if self.check_locks and assert_database_writable(method):
            self.lock_probes.append(method)
        if self._during[method]:
            self._during[method].pop(0)()
        if self.down:
            raise IssuerUnavailable("issuerUnavailable", "The fake bank is down.")
        if self._before[method]:
            raise self._before[method].pop(0)

    def _leave(self, method: str, answer: AnswerModel) -> AnswerModel:
        """The answer as the shop receives it: written as JSON, (maybe altered), read by the client's parser."""
        if self._after[method]:
            raise self._after[method].pop(0)
        body = answer.model_dump(mode="json", by_alias=True)
        if self._alterations[method]:
            self._alterations[method].pop(0)(body)
        return parse_answer(type(answer), json.dumps(body).encode(), money=method in MONEY_METHODS)

    @staticmethod
    def _refusal(method: str, status: int, code: str, details: str, **extra: Any) -> IssuerError:
        """The exception the client raises for this error answer (raise it)."""
        answer = ErrorAnswer(type=error_type(status), code=code, details=details, **extra)
        content = answer.model_dump_json(by_alias=True, exclude_none=True).encode()
        return parse_error(status, content, money=method in MONEY_METHODS)

    # Partner API ------------------------------------------------------------------------------

    def enroll(self, last4: str, phone: str, customer_reference: str, language: str = "en") -> Enrollment:
        self._enter("enroll", last4=last4, phone=phone, customer_reference=customer_reference, language=language)
        card = next(
            (c for c in self.cards.values() if c.summit and c.last4 == last4 and c.phone == phone),
            None,
        )
        if card is None or card.points is None:
            raise self._refusal("enroll", 404, "accountNotFound", "No points card matches.")
        if card.frozen:
            raise self._refusal("enroll", 422, "notEligibleToRedeem", "The card cannot redeem points.")
        for link in self.links.values():
            if link.card is card and link.customer_reference == customer_reference and link.status == "ACTIVE":
                answer = EnrollmentAnswer(
                    reward_link_code=link.code, link_status="ACTIVE", masked_phone_number=_mask(phone)
                )
                return self._leave("enroll", answer).to_result()
        if not card.sms_deliverable:
            raise self._refusal("enroll", 503, "otpDeliveryFailed", "The SMS could not be delivered.")
        link = FakeLink(code="RL-" + secrets.token_hex(8), customer_reference=customer_reference, card=card)
        self.links[link.code] = link
        self._send_otp(link)
        answer = EnrollmentAnswer(
            reward_link_code=link.code,
            link_status="PENDING_ACTIVATION",
            masked_phone_number=_mask(phone),
            otp_expires_at=self.now + self.otp_ttl,
        )
        return self._leave("enroll", answer).to_result()

    def resend_otp(self, reward_link_code: str, language: str = "en") -> OtpResent:
        self._enter("resend_otp", reward_link_code=reward_link_code, language=language)
        link = self._link("resend_otp", reward_link_code)
        if self.now - link.otp_sent_at < self.resend_cooldown:
            raise self._refusal("resend_otp", 429, "otpResendTooSoon", "Wait before asking for a new code.")
        if link.resends_used >= 3:
            raise self._refusal("resend_otp", 429, "maxResendsExceeded", "No more codes.")
        link.resends_used += 1
        self._send_otp(link)
        answer = OtpResentAnswer(otp_expires_at=self.now + self.otp_ttl, resends_remaining=3 - link.resends_used)
        return self._leave("resend_otp", answer).to_result()

    def verify_otp(self, reward_link_code: str, otp: str) -> str:
        self._enter("verify_otp", reward_link_code=reward_link_code, otp=otp)
        link = self._link("verify_otp", reward_link_code)
        if link.status == "LOCKED":
            raise self._refusal("verify_otp", 423, "maxAttemptsExceeded", "The link is locked.")
        if link.status != "ACTIVE":
            if self.now - link.otp_sent_at > self.otp_ttl:
                raise self._refusal("verify_otp", 422, "otpExpired", "The code has expired.")
            if otp != link.otp:
                link.failed_attempts += 1
                if link.failed_attempts >= 5:
                    link.status = "LOCKED"
                    raise self._refusal("verify_otp", 423, "maxAttemptsExceeded", "The link is locked.")
                remaining = 5 - link.failed_attempts
                raise self._refusal(
                    "verify_otp", 422, "invalidLinkageConfirmationCode", "Wrong code.", attempts_remaining=remaining
                )
            link.status = "ACTIVE"
            link.otp = ""
        return self._leave("verify_otp", ActivationAnswer(link_status="ACTIVE")).link_status

    def balance(self, reward_link_code: str) -> Balance:
        self._enter("balance", reward_link_code=reward_link_code)
        card = self._active_link("balance", reward_link_code).card
        points = card.points or 0
        answer = BalanceAnswer(
            is_redemption_eligible=not card.frozen and points >= card.minimum,
            available_point_balance=points,
            program_conversion_rate=card.rate,
            currency_code="HKD",
            redemption_point_increment=card.increment,
            minimum_points_to_redeem=card.minimum,
            maximum_points_to_redeem=points - points % card.increment,
        )
        return self._leave("balance", answer).to_result()

    def redeem(
        self,
        reward_link_code: str,
        reference: str,
        amount_cents: int,
        points: int,
        description: str,
        currency_code: str = "HKD",
    ) -> Redemption:
        self._enter(
            "redeem",
            reward_link_code=reward_link_code,
            reference=reference,
            amount_cents=amount_cents,
            points=points,
            description=description,
        )
        request = (reward_link_code, amount_cents, points, currency_code)
        if reference in self.redemptions:
            existing = self.redemptions[reference]
            if existing.request != request:
                raise self._refusal("redeem", 409, "transactionAlreadyRedeemed", "Reference already used.")
            return self._leave("redeem", self._redemption_answer(existing)).to_result(reference, replayed=True)
        card = self._active_link("redeem", reward_link_code).card
        if points % card.increment:
            raise self._refusal("redeem", 422, "invalidPointsAndAmountCombination", "Not a multiple of the increment.")
        if points < card.minimum:
            raise self._refusal("redeem", 422, "belowMinimumPointsAllowed", "Below the minimum.")
        if points > (card.points or 0):
            raise self._refusal("redeem", 422, "inSufficientPointBalance", "Not enough points.")
        credit = int(points * card.rate * 100)
        if credit > amount_cents:
            raise self._refusal("redeem", 422, "exceedsMaximumAmountAllowed", "More than the purchase.")
        card.points = (card.points or 0) - points
        order_id = "RDM-" + secrets.token_hex(6)
        redemption = FakeRedemption(order_id, reference, request, card, points, credit, self.now.date())
        self.redemptions[reference] = redemption
        return self._leave("redeem", self._redemption_answer(redemption)).to_result(reference)

    def get_redemption(self, order_id: str) -> Redemption:
        self._enter("get_redemption", order_id=order_id)
        for redemption in self.redemptions.values():
            if redemption.order_id == order_id:
                return self._leave("get_redemption", self._redemption_details(redemption)).to_result()
        raise self._refusal("get_redemption", 404, "redemptionNotFound", "No such redemption.")

    def find_redemption(self, reference: str) -> Redemption:
        self._enter("find_redemption", reference=reference)
        if reference not in self.redemptions:
            raise self._refusal("find_redemption", 404, "redemptionNotFound", "No such redemption.")
        return self._leave("find_redemption", self._redemption_details(self.redemptions[reference])).to_result()

    def reverse(self, order_id: str, reference: str, points: int) -> Reversal:
        self._enter("reverse", order_id=order_id, reference=reference, points=points)
        request = (order_id, points)
        if reference in self.reversals:
            first_request, answer = self.reversals[reference]
            if first_request != request:
                raise self._refusal("reverse", 409, "reversalAlreadyProcessed", "Reference already used.")
            return self._leave("reverse", answer).to_result(reference)
        redemption = next((r for r in self.redemptions.values() if r.order_id == order_id), None)
        if redemption is None:
            raise self._refusal("reverse", 404, "redemptionNotFound", "No such redemption.")
        remaining = redemption.points - sum(r.points for r in redemption.reversals)
        if points <= 0 or points > remaining:
            raise self._refusal("reverse", 422, "exceedsReversiblePoints", "More than is left.")
        redemption.card.points = (redemption.card.points or 0) + points
        reversal = FakeReversal(
            "RVS-" + secrets.token_hex(6), reference, points, int(points * redemption.card.rate * 100)
        )
        redemption.reversals.append(reversal)
        answer = ReversalAnswer(
            reversal_id=reversal.reversal_id,
            points_reversed=points,
            amount_reversed=Decimal(cents_to_amount(reversal.amount_cents)),
            remaining_reversible_points=remaining - points,
            available_point_balance=redemption.card.points,
        )
        self.reversals[reference] = (request, answer)
        return self._leave("reverse", answer).to_result(reference)

    def unlink(self, reward_link_code: str) -> None:
        self._enter("unlink", reward_link_code=reward_link_code)
        self._link("unlink", reward_link_code)
        del self.links[reward_link_code]
        if self._after["unlink"]:
            raise self._after["unlink"].pop(0)

    # Card gateway -----------------------------------------------------------------------------

    def pay(
        self,
        *,
        amount_cents: int,
        card_number: str,
        expiry_month: int,
        expiry_year: int,
        cvc: str,
        holder_name: str,
        merchant_reference: str,
        idempotency_key: str,
        currency_code: str = "HKD",
        pwp_flow: str = "native",
    ) -> Payment:
        # The card number is recorded masked, as a careful gateway log would.
        self._enter(
            "pay",
            amount_cents=amount_cents,
            card_last4=card_number[-4:],
            merchant_reference=merchant_reference,
            idempotency_key=idempotency_key,
            pwp_flow=pwp_flow,
        )
        request = (amount_cents, card_number, expiry_month, expiry_year, cvc, merchant_reference, pwp_flow)
        if idempotency_key in self.payments:
            first_request, answer = self.payments[idempotency_key]
            if first_request != request:
                raise self._refusal("pay", 409, "idempotencyKeyReused", "Key used with another body.")
            return self._leave("pay", answer).to_result(replayed=True)
        card = self.cards.get(card_number) or FakeCard(card_number, "", None, summit=False)
        decline = None
        if card.frozen:
            decline = "cardFrozen"
        elif card.summit and amount_cents > card.credit_limit_cents:
            decline = "insufficientCredit"
        answer = PaymentAnswer(
            payment_id="PAY-" + secrets.token_hex(6),
            status="DECLINED" if decline else "CAPTURED",
            decline_code=decline,
            amount=amount_cents,
            card=CardSummary(
                last4=card.last4,
                brand="VISA",
                issued_by_summit=card.summit,
                points_eligible=card.summit and card.points is not None,
            ),
            merchant_reference=merchant_reference,
        )
        self.payments[idempotency_key] = (request, answer)
        return self._leave("pay", answer).to_result()

    def get_payment(self, payment_id: str) -> Payment:
        self._enter("get_payment", payment_id=payment_id)
        for _request, answer in self.payments.values():
            if answer.payment_id == payment_id:
                return self._leave("get_payment", self._payment_now(answer)).to_result()
        raise self._refusal("get_payment", 404, "paymentNotFound", "No such payment.")

    def find_payments(self, merchant_reference: str) -> list[Payment]:
        self._enter("find_payments", merchant_reference=merchant_reference)
        found = [
            self._payment_now(answer)
            for _request, answer in self.payments.values()
            if answer.merchant_reference == merchant_reference
        ]
        listing = self._leave("find_payments", PaymentListAnswer(payments=found))
        return [payment.to_result() for payment in listing.payments]

    def refund(self, payment_id: str, amount_cents: int, idempotency_key: str) -> Refund:
        self._enter("refund", payment_id=payment_id, amount_cents=amount_cents, idempotency_key=idempotency_key)
        key = (payment_id, idempotency_key)
        if key in self.refunds:
            first_amount, answer = self.refunds[key]
            if first_amount != amount_cents:
                raise self._refusal("refund", 409, "idempotencyKeyReused", "Key used with another body.")
            return self._leave("refund", answer).to_result()
        payment = next((p for _r, p in self.payments.values() if p.payment_id == payment_id), None)
        if payment is None or payment.status != "CAPTURED":
            raise self._refusal("refund", 404, "paymentNotFound", "No such payment.")
        if self.refunded[payment_id] + amount_cents > payment.amount:
            raise self._refusal("refund", 422, "exceedsRefundableAmount", "More than was paid.")
        self.refunded[payment_id] += amount_cents
        answer = RefundAnswer(refund_id="RFD-" + secrets.token_hex(6), status="SUCCEEDED", amount=amount_cents)
        self.refunds[key] = (amount_cents, answer)
        return self._leave("refund", answer).to_result()

    # Helpers ----------------------------------------------------------------------------------

    def _send_otp(self, link: FakeLink) -> None:
        link.otp = f"{secrets.randbelow(10**6):06d}"
        link.otp_sent_at = self.now
        self.sms.append((link.card.phone, link.otp))

    def _link(self, method: str, code: str) -> FakeLink:
        link = self.links.get(code)
        if link is None:
            raise self._refusal(method, 404, "invalidRewardLinkCode", "Unknown link.")
        return link

    def _active_link(self, method: str, code: str) -> FakeLink:
        link = self._link(method, code)
        if link.status != "ACTIVE":
            raise self._refusal(method, 422, "inactiveRewardLinkCode", "The link is not active.")
        return link

    def _payment_now(self, answer: PaymentAnswer) -> PaymentAnswer:
        """A payment as the look-ups show it now, with what has been refunded since."""
        return PaymentAnswer.model_validate(
            {**answer.model_dump(by_alias=True), "refundedAmount": self.refunded[answer.payment_id]}
        )

    @staticmethod
    def _redemption_answer(redemption: FakeRedemption) -> RedemptionAnswer:
        return RedemptionAnswer(
            order_id=redemption.order_id,
            status="COMPLETED",
            points_redeemed=redemption.points,
            redeemed_amount=Decimal(cents_to_amount(redemption.amount_cents)),
            available_point_balance=redemption.card.points or 0,
            credit_posting_date=redemption.posted_on,
        )

    @classmethod
    def _redemption_details(cls, redemption: FakeRedemption) -> RedemptionDetailsAnswer:
        return RedemptionDetailsAnswer(
            **cls._redemption_answer(redemption).model_dump(),
            transaction_reference_number=redemption.reference,
            reversals=[
                ReversalEntry(
                    reversal_id=reversal.reversal_id,
                    reversal_reference_number=reversal.reference,
                    points_reversed=reversal.points,
                    amount_reversed=Decimal(cents_to_amount(reversal.amount_cents)),
                )
                for reversal in redemption.reversals
            ],
        )


def _mask(phone: str) -> str:
    return "****" + phone[-4:]
