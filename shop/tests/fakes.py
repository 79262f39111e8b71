"""FakeIssuerClient: Summit Bank in memory, with the IssuerClient's methods, for the shop's unit tests.

It records every call in ``calls`` and simulates the test cards of DESIGN.md: balances, links, OTPs, declines,
idempotent references. Faults are injected per method:

- ``fail_before(method, error)``: the next call raises ``error`` and changes nothing (e.g. the bank is down);
- ``fail_after(method, error)``: the next call does its work, then raises ``error`` (a dropped response);
- ``during(method, action)``: the next call first runs ``action()`` (e.g. another tab acting meanwhile).

Every call also checks that the shop holds no database lock while it waits on the bank: inside an app context
on SQLite, it takes the write lock from a separate connection with a short timeout (``LockHeldDuringIssuerCall``
if that fails), as another shopper's request would. ``lock_probes`` counts the checks made.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import has_app_context

from shop.extensions import db
from shop.issuer_client import (
    AccountNotFound,
    AlreadyProcessed,
    Balance,
    Enrollment,
    InvalidOtp,
    InvalidRewardLink,
    IssuerError,
    IssuerUnavailable,
    MaxResendsExceeded,
    NotEligibleToRedeem,
    NotFound,
    OtpDeliveryFailed,
    OtpExpired,
    OtpLocked,
    OtpResendTooSoon,
    OtpResent,
    Payment,
    Redemption,
    RedemptionRejected,
    Refund,
    Reversal,
)

NOW = datetime(2026, 11, 26, 9, 0, 0)
LOCK_PROBE_TIMEOUT_SECONDS = 0.2


class LockHeldDuringIssuerCall(AssertionError):
    """The shop kept a transaction (SQLite's write lock) open while calling the bank."""


def assert_database_writable(method: str) -> bool:
    """Take and release the write lock from another connection, as a concurrent shopper would.

    Returns False when there is no app context or the database is not an SQLite file (nothing to check).
    """
    if not has_app_context():
        return False
    url = db.engine.url
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
class FakeRedemption:
    order_id: str
    reference: str
    request: tuple
    card: FakeCard
    points: int
    amount_cents: int
    reversals: list[Reversal] = field(default_factory=list)


class FakeIssuerClient:
    """Summit Bank in memory: the IssuerClient's interface, behaviour of the sandbox, faults on demand."""

    otp_ttl = timedelta(minutes=5)
    resend_cooldown = timedelta(seconds=30)

    def __init__(self) -> None:
        self.cards = seed_cards()
        self.links: dict[str, FakeLink] = {}
        self.sms: list[tuple[str, str]] = []  # (phone, otp), oldest first
        self.redemptions: dict[str, FakeRedemption] = {}  # by reference
        self.reversals: dict[str, tuple[tuple, Reversal]] = {}  # by reversal reference
        self.payments: dict[str, tuple[tuple, Payment]] = {}  # by idempotency key
        self.refunds: dict[tuple[str, str], tuple[int, Refund]] = {}  # by (payment id, key)
        self.refunded: dict[str, int] = defaultdict(int)  # payment id -> cents refunded
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.now = NOW
        self._before: dict[str, list[Exception]] = defaultdict(list)
        self._after: dict[str, list[Exception]] = defaultdict(list)
        self._during: dict[str, list[Callable[[], Any]]] = defaultdict(list)
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

    def _leave(self, method: str, result: Any) -> Any:
        if self._after[method]:
            raise self._after[method].pop(0)
        return result

    # Partner API ------------------------------------------------------------------------------

    def enroll(self, last4: str, phone: str, customer_reference: str) -> Enrollment:
        self._enter("enroll", last4=last4, phone=phone, customer_reference=customer_reference)
        card = next(
            (c for c in self.cards.values() if c.summit and c.last4 == last4 and c.phone == phone),
            None,
        )
        if card is None or card.points is None:
            raise AccountNotFound("accountNotFound", "No points card matches.", 404)
        if card.frozen:
            raise NotEligibleToRedeem("notEligibleToRedeem", "The card cannot redeem points.", 422)
        for link in self.links.values():
            if link.card is card and link.customer_reference == customer_reference and link.status == "ACTIVE":
                return self._leave("enroll", Enrollment(link.code, "ACTIVE", _mask(phone), None))
        if not card.sms_deliverable:
            raise OtpDeliveryFailed("otpDeliveryFailed", "The SMS could not be delivered.", 503)
        link = FakeLink(code="RL-" + secrets.token_hex(8), customer_reference=customer_reference, card=card)
        self.links[link.code] = link
        self._send_otp(link)
        return self._leave("enroll", Enrollment(link.code, "PENDING_ACTIVATION", _mask(phone), self.now + self.otp_ttl))

    def resend_otp(self, reward_link_code: str) -> OtpResent:
        self._enter("resend_otp", reward_link_code=reward_link_code)
        link = self._link(reward_link_code)
        if self.now - link.otp_sent_at < self.resend_cooldown:
            raise OtpResendTooSoon("otpResendTooSoon", "Wait before asking for a new code.", 429)
        if link.resends_used >= 3:
            raise MaxResendsExceeded("maxResendsExceeded", "No more codes.", 429)
        link.resends_used += 1
        self._send_otp(link)
        return self._leave("resend_otp", OtpResent(self.now + self.otp_ttl, 3 - link.resends_used))

    def verify_otp(self, reward_link_code: str, otp: str) -> str:
        self._enter("verify_otp", reward_link_code=reward_link_code, otp=otp)
        link = self._link(reward_link_code)
        if link.status == "LOCKED":
            raise OtpLocked("maxAttemptsExceeded", "The link is locked.", 423)
        if link.status == "ACTIVE":
            return self._leave("verify_otp", "ACTIVE")
        if self.now - link.otp_sent_at > self.otp_ttl:
            raise OtpExpired("otpExpired", "The code has expired.", 422)
        if otp != link.otp:
            link.failed_attempts += 1
            if link.failed_attempts >= 5:
                link.status = "LOCKED"
                raise OtpLocked("maxAttemptsExceeded", "The link is locked.", 423)
            remaining = 5 - link.failed_attempts
            raise InvalidOtp("invalidLinkageConfirmationCode", "Wrong code.", 422, {"attemptsRemaining": remaining})
        link.status = "ACTIVE"
        link.otp = ""
        return self._leave("verify_otp", "ACTIVE")

    def balance(self, reward_link_code: str) -> Balance:
        self._enter("balance", reward_link_code=reward_link_code)
        link = self._active_link(reward_link_code)
        card = link.card
        points = card.points or 0
        return self._leave(
            "balance",
            Balance(
                is_redemption_eligible=not card.frozen and points >= card.minimum,
                available_points=points,
                conversion_rate=card.rate,
                currency_code="HKD",
                increment=card.increment,
                minimum=card.minimum,
                maximum=points - points % card.increment,
            ),
        )

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
                raise AlreadyProcessed("transactionAlreadyRedeemed", "Reference already used.", 409)
            return self._leave("redeem", self._redemption(existing, replayed=True))
        link = self._active_link(reward_link_code)
        card = link.card
        if points % card.increment:
            raise RedemptionRejected("invalidPointsAndAmountCombination", "Not a multiple of the increment.", 422)
        if points < card.minimum:
            raise RedemptionRejected("belowMinimumPointsAllowed", "Below the minimum.", 422)
        if points > (card.points or 0):
            raise RedemptionRejected("inSufficientPointBalance", "Not enough points.", 422)
        credit = int(points * card.rate * 100)
        if credit > amount_cents:
            raise RedemptionRejected("exceedsMaximumAmountAllowed", "More than the purchase.", 422)
        card.points = (card.points or 0) - points
        order_id = "RDM-" + secrets.token_hex(6)
        redemption = FakeRedemption(order_id, reference, request, card, points, credit)
        self.redemptions[reference] = redemption
        return self._leave("redeem", self._redemption(redemption))

    def get_redemption(self, order_id: str) -> Redemption:
        self._enter("get_redemption", order_id=order_id)
        for redemption in self.redemptions.values():
            if redemption.order_id == order_id:
                return self._leave("get_redemption", self._redemption(redemption))
        raise NotFound("redemptionNotFound", "No such redemption.", 404)

    def find_redemption(self, reference: str) -> Redemption:
        self._enter("find_redemption", reference=reference)
        if reference not in self.redemptions:
            raise NotFound("redemptionNotFound", "No such redemption.", 404)
        return self._leave("find_redemption", self._redemption(self.redemptions[reference]))

    def reverse(self, order_id: str, reference: str, points: int) -> Reversal:
        self._enter("reverse", order_id=order_id, reference=reference, points=points)
        request = (order_id, points)
        if reference in self.reversals:
            first_request, reversal = self.reversals[reference]
            if first_request != request:
                raise AlreadyProcessed("reversalAlreadyProcessed", "Reference already used.", 409)
            return self._leave("reverse", reversal)
        redemption = next((r for r in self.redemptions.values() if r.order_id == order_id), None)
        if redemption is None:
            raise NotFound("redemptionNotFound", "No such redemption.", 404)
        remaining = redemption.points - sum(r.points_reversed for r in redemption.reversals)
        if points <= 0 or points > remaining:
            raise RedemptionRejected("exceedsReversiblePoints", "More than is left.", 422)
        redemption.card.points = (redemption.card.points or 0) + points
        reversal = Reversal(
            reversal_id="RVS-" + secrets.token_hex(6),
            points_reversed=points,
            amount_reversed_cents=int(points * redemption.card.rate * 100),
            reference=reference,
            remaining_reversible_points=remaining - points,
            available_point_balance=redemption.card.points,
        )
        redemption.reversals.append(reversal)
        self.reversals[reference] = (request, reversal)
        return self._leave("reverse", reversal)

    def unlink(self, reward_link_code: str) -> None:
        self._enter("unlink", reward_link_code=reward_link_code)
        self._link(reward_link_code)
        del self.links[reward_link_code]
        return self._leave("unlink", None)

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
    ) -> Payment:
        # The card number is recorded masked, as a careful gateway log would.
        self._enter(
            "pay",
            amount_cents=amount_cents,
            card_last4=card_number[-4:],
            merchant_reference=merchant_reference,
            idempotency_key=idempotency_key,
        )
        request = (amount_cents, card_number, expiry_month, expiry_year, cvc, merchant_reference)
        if idempotency_key in self.payments:
            first_request, payment = self.payments[idempotency_key]
            if first_request != request:
                raise AlreadyProcessed("idempotencyKeyReused", "Key used with another body.", 409)
            return self._leave("pay", _replace(payment, replayed=True))
        card = self.cards.get(card_number) or FakeCard(card_number, "", None, summit=False)
        decline = None
        if card.frozen:
            decline = "cardFrozen"
        elif card.summit and amount_cents > card.credit_limit_cents:
            decline = "insufficientCredit"
        payment = Payment(
            payment_id="PAY-" + secrets.token_hex(6),
            status="DECLINED" if decline else "CAPTURED",
            decline_code=decline,
            last4=card.last4,
            brand="VISA",
            issued_by_summit=card.summit,
            points_eligible=card.summit and card.points is not None,
            amount_cents=amount_cents,
            merchant_reference=merchant_reference,
        )
        self.payments[idempotency_key] = (request, payment)
        return self._leave("pay", payment)

    def get_payment(self, payment_id: str) -> Payment:
        self._enter("get_payment", payment_id=payment_id)
        for _request, payment in self.payments.values():
            if payment.payment_id == payment_id:
                return self._leave("get_payment", _replace(payment, refunded_cents=self.refunded[payment_id]))
        raise NotFound("paymentNotFound", "No such payment.", 404)

    def find_payments(self, merchant_reference: str) -> list[Payment]:
        self._enter("find_payments", merchant_reference=merchant_reference)
        found = [
            _replace(payment, refunded_cents=self.refunded[payment.payment_id])
            for _request, payment in self.payments.values()
            if payment.merchant_reference == merchant_reference
        ]
        return self._leave("find_payments", found)

    def refund(self, payment_id: str, amount_cents: int, idempotency_key: str) -> Refund:
        self._enter("refund", payment_id=payment_id, amount_cents=amount_cents, idempotency_key=idempotency_key)
        key = (payment_id, idempotency_key)
        if key in self.refunds:
            first_amount, refund = self.refunds[key]
            if first_amount != amount_cents:
                raise AlreadyProcessed("idempotencyKeyReused", "Key used with another body.", 409)
            return self._leave("refund", refund)
        payment = next((p for _r, p in self.payments.values() if p.payment_id == payment_id), None)
        if payment is None or payment.status != "CAPTURED":
            raise NotFound("paymentNotFound", "No such payment.", 404)
        if self.refunded[payment_id] + amount_cents > (payment.amount_cents or 0):
            raise IssuerError("exceedsRefundableAmount", "More than was paid.", 422)
        self.refunded[payment_id] += amount_cents
        refund = Refund("RFD-" + secrets.token_hex(6), "SUCCEEDED", amount_cents)
        self.refunds[key] = (amount_cents, refund)
        return self._leave("refund", refund)

    # Helpers ----------------------------------------------------------------------------------

    def _send_otp(self, link: FakeLink) -> None:
        link.otp = f"{secrets.randbelow(10**6):06d}"
        link.otp_sent_at = self.now
        self.sms.append((link.card.phone, link.otp))

    def _link(self, code: str) -> FakeLink:
        link = self.links.get(code)
        if link is None:
            raise InvalidRewardLink("invalidRewardLinkCode", "Unknown link.", 404)
        return link

    def _active_link(self, code: str) -> FakeLink:
        link = self._link(code)
        if link.status != "ACTIVE":
            raise InvalidRewardLink("inactiveRewardLinkCode", "The link is not active.", 422)
        return link

    @staticmethod
    def _redemption(redemption: FakeRedemption, replayed: bool = False) -> Redemption:
        return Redemption(
            order_id=redemption.order_id,
            status="COMPLETED",
            points_redeemed=redemption.points,
            redeemed_amount_cents=redemption.amount_cents,
            available_point_balance=redemption.card.points,
            transaction_reference=redemption.reference,
            reversals=tuple(redemption.reversals),
            replayed=replayed,
        )


def _mask(phone: str) -> str:
    return "****" + phone[-4:]


def _replace(payment: Payment, **changes: Any) -> Payment:
    from dataclasses import replace

    return replace(payment, **changes)
