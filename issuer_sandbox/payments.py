"""The card gateway's rules: authorise and capture a card payment, refund it, look it up.

A decline is a normal outcome (a stored payment with a decline code), not an exception; the named
exceptions below are the caller's mistakes. Each public function that writes is one transaction: it
commits on success; on a named exception nothing was written (the request's session is rolled back).

Only the last four digits and the brand of a card are stored, plus the card's id for Summit cards;
the full number and the CVC never reach the database. The request fingerprint that makes idempotent
replays safe is a keyed hash, so it cannot be brute-forced back into a card number.

Refunds and points: the refund that makes a payment fully refunded also reverses, in the same transaction,
whatever is left of a points redemption made against it on the bank's own site (points back to the cardholder,
the statement credit reversed; ``redemptions.reverse_site_redemption_of_refund``). A partial refund reverses no
points. A redemption at the merchant's checkout is the merchant's to reverse (the partner API's reversals).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from . import redemptions, schemas, statement
from .clock import iso
from .errors import RuleError
from .extensions import db
from .idempotency import fingerprint, replay_or_write, stored_response
from .models import Card, PartnerClient, Payment, Refund, SmsMessage
from .money import cents_to_amount

SUMMIT_BIN = "4966"  # every number the bank issues starts with this

CAPTURED = "CAPTURED"
DECLINED = "DECLINED"
PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
REFUNDED = "REFUNDED"
REFUND_SUCCEEDED = "SUCCEEDED"

# The merchant's Pay with Points flow, as the payment request names it (payWithPointsFlow).
NATIVE_FLOW = "native"
LEGACY_FLOW = "legacy"

# Decline codes, in the order they are checked.
INVALID_CARD_NUMBER = "invalidCardNumber"
EXPIRED_CARD = "expiredCard"
INCORRECT_CVC = "incorrectCvc"
CARD_FROZEN = "cardFrozen"
INSUFFICIENT_CREDIT = "insufficientCredit"
DECLINE_CODES = (INVALID_CARD_NUMBER, EXPIRED_CARD, INCORRECT_CVC, CARD_FROZEN, INSUFFICIENT_CREDIT)


class PaymentError(RuleError):
    """Base of the gateway's named failures."""


class IdempotencyKeyReused(PaymentError):
    """The Idempotency-Key was already used with a different request body."""

    status = 409
    code = "idempotencyKeyReused"


class PaymentNotFound(PaymentError):
    """No payment with that id belongs to this merchant."""

    status = 404
    code = "paymentNotFound"

    @property
    def details(self) -> str:
        return f"There is no payment {self.args[0]!r} for this merchant."


class PaymentNotRefundable(PaymentError):
    """The payment was declined, so there is nothing to refund."""

    status = 422
    code = "paymentNotRefundable"


class ExceedsRefundableAmount(PaymentError):
    """The refund is larger than what is left of the captured amount."""

    status = 422
    code = "exceedsRefundableAmount"

    def __init__(self, requested: int, remaining: int) -> None:
        super().__init__(f"The refund of {requested} cents exceeds the {remaining} cents left to refund.")
        self.requested = requested
        self.remaining = remaining

    def extra_fields(self) -> dict[str, Any]:
        return {"remainingRefundableAmount": self.remaining}


@dataclass(frozen=True)
class CardDetails:
    """A card as the shopper typed it. Lives only for the request."""

    number: str  # digits only
    expiry_month: int
    expiry_year: int  # four digits
    cvc: str
    holder_name: str = ""

    def __repr__(self) -> str:  # never let a number or CVC reach a log through repr()
        return f"CardDetails(last4={self.number[-4:]!r})"


@dataclass(frozen=True)
class RedemptionOffer:
    """What the bank's offer SMS needs after a legacy-flow payment: its name and its redemption site's address."""

    bank_name: str
    site_url: str  # the site's start page, absolute; the SMS adds ?purchase=<paymentId>


@dataclass(frozen=True)
class Outcome:
    """The response body of a payment or refund, and whether it is a replay of an earlier one."""

    body: dict[str, Any]
    replayed: bool


# --- Card checks --------------------------------------------------------------------------------


def luhn_valid(number: str) -> bool:
    """The Luhn (mod 10) check digit test of a card number given as digits."""
    if not number.isascii() or not number.isdigit():  # '٣' and '¹' are digits to str.isdigit()
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def brand_of(number: str) -> str:
    """The card scheme from the leading digits: VISA, MASTERCARD, AMEX or UNKNOWN."""
    if number.startswith("4"):
        return "VISA"
    if number[:2] in ("51", "52", "53", "54", "55"):
        return "MASTERCARD"
    if number[:2] in ("34", "37"):
        return "AMEX"
    return "UNKNOWN"


def points_eligible(card: Card | None) -> bool:
    """A Summit card in a points programme and not frozen: the shop may offer Pay with Points."""
    return card is not None and card.programme_id is not None and card.status == "ACTIVE"


def decline_code_for(
    card_details: CardDetails, summit_card: Card | None, amount_cents: int, now: datetime
) -> str | None:
    """Why the payment is declined, or None to approve it. The checks run in the documented order."""
    number = card_details.number
    if not 12 <= len(number) <= 19 or not luhn_valid(number):
        return INVALID_CARD_NUMBER
    if summit_card is None and number.startswith(SUMMIT_BIN):
        return INVALID_CARD_NUMBER  # looks like ours, but the bank never issued it
    if (card_details.expiry_year, card_details.expiry_month) < (now.year, now.month):
        return EXPIRED_CARD
    if len(card_details.cvc) != 3 or not card_details.cvc.isascii() or not card_details.cvc.isdigit():
        return INCORRECT_CVC
    if summit_card is None:
        return None  # another bank's card: approved, as the acquirer would
    if summit_card.status != "ACTIVE":
        return CARD_FROZEN
    if amount_cents > summit_card.credit_available_cents:
        return INSUFFICIENT_CREDIT
    return None


# --- Fingerprints and ids -----------------------------------------------------------------------


def _public_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(10).upper()}"


# --- Payments -----------------------------------------------------------------------------------


def create_payment(
    partner: PartnerClient,
    idempotency_key: str,
    amount_cents: int,
    currency: str,
    card_details: CardDetails,
    merchant_reference: str,
    now: datetime,
    fingerprint_key: bytes,
    flow: str = NATIVE_FLOW,
    offer: RedemptionOffer | None = None,
) -> Outcome:
    """Authorise and capture a payment, or decline it; replay the first outcome for a repeated key.

    In the legacy ``flow`` a captured payment with a points card also texts the cardholder the bank's
    ``offer`` (a link to its redemption site). Raises IdempotencyKeyReused when the key was used with a
    different body. Commits.
    """
    fields = {
        "amount": amount_cents,
        "currency": currency,
        "number": card_details.number,
        "expiryMonth": card_details.expiry_month,
        "expiryYear": card_details.expiry_year,
        "cvc": card_details.cvc,
        "holderName": card_details.holder_name,
        "merchantReference": merchant_reference,
    }
    if flow != NATIVE_FLOW:  # the native default leaves the fingerprints of earlier payments as they were
        fields["payWithPointsFlow"] = flow
    request_fingerprint = fingerprint(fields, key=fingerprint_key)
    return replay_or_write(
        lambda: None,
        lambda _: _replay_payment(partner, idempotency_key, request_fingerprint),
        lambda _: Outcome(
            _capture_or_decline(
                partner,
                idempotency_key,
                request_fingerprint,
                amount_cents,
                currency,
                card_details,
                merchant_reference,
                now,
                flow,
                offer,
            ),
            replayed=False,
        ),
    )


def _replay_payment(partner: PartnerClient, idempotency_key: str, request_fingerprint: str) -> Outcome | None:
    existing = db.session.scalar(
        sa.select(Payment).where(Payment.partner_client_id == partner.id, Payment.idempotency_key == idempotency_key)
    )
    conflict = IdempotencyKeyReused(f"The Idempotency-Key {idempotency_key!r} was already used with another body.")
    body = stored_response(existing, request_fingerprint, conflict)
    return None if body is None else Outcome(json.loads(body), replayed=True)


def _capture_or_decline(
    partner: PartnerClient,
    idempotency_key: str,
    request_fingerprint: str,
    amount_cents: int,
    currency: str,
    card_details: CardDetails,
    merchant_reference: str,
    now: datetime,
    flow: str = NATIVE_FLOW,
    offer: RedemptionOffer | None = None,
) -> dict[str, Any]:
    summit_card = _lock_card(card_details.number)
    decline_code = decline_code_for(card_details, summit_card, amount_cents, now)
    payment = Payment(
        payment_id=_public_id("PAY"),
        partner_client_id=partner.id,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        merchant_reference=merchant_reference,
        card_id=summit_card.id if summit_card else None,
        last4=card_details.number[-4:],
        brand=brand_of(card_details.number),
        amount_cents=amount_cents,
        refunded_cents=0,
        currency_code=currency,
        status=DECLINED if decline_code else CAPTURED,
        decline_code=decline_code,
        response_body="",
        created_at=now,
        pwp_flow=flow,
    )
    db.session.add(payment)
    # Insert before touching the card: a concurrent twin fails here, on the unique key, before it
    # could post a second purchase.
    db.session.flush()
    if summit_card is not None and decline_code is None:
        statement.post_line(
            summit_card,
            statement.PURCHASE,
            amount_cents,
            f"{partner.merchant_name} {merchant_reference}",
            now,
            merchant_name=partner.merchant_name,
            reference=payment.payment_id,
        )
        if flow == LEGACY_FLOW and offer is not None and points_eligible(summit_card):
            _send_redemption_offer(summit_card, payment, partner.merchant_name, offer, now)
    body = schemas.dump(
        schemas.Payment(
            payment_id=payment.payment_id,
            status=payment.status,
            decline_code=decline_code,
            amount=amount_cents,
            currency=currency,
            merchant_reference=merchant_reference,
            card=schemas.CardSummary(
                last4=payment.last4,
                brand=payment.brand,
                issued_by_summit=summit_card is not None,
                points_eligible=points_eligible(summit_card),
            ),
            created_at=iso(now),
        )
    )
    payment.response_body = json.dumps(body)
    return body


def redemption_offer_text(bank_name: str, payment: Payment, merchant_name: str, site_url: str) -> str:
    """The bank's SMS after a legacy-flow purchase: the purchase, and the link to its redemption site."""
    return (
        f"{bank_name}: you paid {payment.currency_code} {cents_to_amount(payment.amount_cents)} at "
        f"{merchant_name[:60]} with your card ending {payment.last4}. Turn your points into a statement credit "
        f"on this purchase: {site_url}?purchase={payment.payment_id}"
    )[:320]


def _send_redemption_offer(
    card: Card, payment: Payment, merchant_name: str, offer: RedemptionOffer, now: datetime
) -> None:
    """Text the offer to the card's registered mobile (an undeliverable mobile gets nothing, as in life)."""
    if not card.sms_deliverable:
        return
    text = redemption_offer_text(offer.bank_name, payment, merchant_name, offer.site_url)
    db.session.add(SmsMessage(phone=card.cardholder.phone, body=text, sent_at=now))


def _lock_card(number: str) -> Card | None:
    """The Summit card with this number, its row locked so the credit check holds until commit."""
    card = db.session.scalar(sa.select(Card).where(Card.number == number).with_for_update())
    if card is not None:
        db.session.refresh(card)
    return card


def find_payment(partner: PartnerClient, payment_id: str) -> Payment:
    """The merchant's payment with this id; another merchant's payment is not found either."""
    payment = db.session.scalar(
        sa.select(Payment).where(Payment.payment_id == payment_id, Payment.partner_client_id == partner.id)
    )
    if payment is None:
        raise PaymentNotFound(payment_id)
    return payment


def payments_by_reference(partner: PartnerClient, merchant_reference: str) -> list[Payment]:
    """The merchant's payments carrying this merchant reference, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Payment)
            .where(Payment.partner_client_id == partner.id, Payment.merchant_reference == merchant_reference)
            .order_by(Payment.id)
        )
    )


def payment_view(payment: Payment) -> dict[str, Any]:
    """A payment as the look-ups show it now: its current status, refunds and what is left to refund."""
    first = json.loads(payment.response_body)
    return schemas.dump(
        schemas.PaymentDetail(
            payment_id=payment.payment_id,
            status=payment.status,
            decline_code=payment.decline_code,
            amount=payment.amount_cents,
            currency=payment.currency_code,
            merchant_reference=payment.merchant_reference,
            card=schemas.CardSummary.model_validate(first["card"]),
            created_at=first["createdAt"],
            refunded_amount=payment.refunded_cents,
            remaining_refundable_amount=_remaining(payment),
            refunds=[
                schemas.RefundSummary(
                    refund_id=refund.refund_id,
                    status=refund.status,
                    amount=refund.amount_cents,
                    created_at=iso(refund.created_at),
                )
                for refund in payment.refunds
            ],
        )
    )


def _remaining(payment: Payment) -> int:
    return 0 if payment.status == DECLINED else payment.amount_cents - payment.refunded_cents


# --- Refunds ------------------------------------------------------------------------------------


def refund_payment(
    partner: PartnerClient, payment_id: str, idempotency_key: str, amount_cents: int, now: datetime
) -> Outcome:
    """Refund part or all of a captured payment; replay the first outcome for a repeated key.

    Raises PaymentNotFound, PaymentNotRefundable, ExceedsRefundableAmount or IdempotencyKeyReused. Commits.
    """
    request_fingerprint = fingerprint({"amount": amount_cents})
    return replay_or_write(
        lambda: _lock_payment(partner, payment_id),
        lambda payment: _replay_refund(payment, idempotency_key, request_fingerprint),
        lambda payment: Outcome(
            _refund(partner, payment, idempotency_key, request_fingerprint, amount_cents, now), replayed=False
        ),
    )


def _lock_payment(partner: PartnerClient, payment_id: str) -> Payment:
    """The payment, its row locked so two refunds cannot both take the last of it (PostgreSQL)."""
    payment = db.session.scalar(
        sa.select(Payment)
        .where(Payment.payment_id == payment_id, Payment.partner_client_id == partner.id)
        # FOR NO KEY UPDATE: two refunds still queue, but a redemption's foreign key to this payment does not
        # wait on it (that redemption holds the card's points account, which the refund takes next).
        .with_for_update(key_share=True)
    )
    if payment is None:
        raise PaymentNotFound(payment_id)
    db.session.refresh(payment)
    return payment


def _replay_refund(payment: Payment, idempotency_key: str, request_fingerprint: str) -> Outcome | None:
    existing = db.session.scalar(
        sa.select(Refund).where(Refund.payment_id == payment.id, Refund.idempotency_key == idempotency_key)
    )
    conflict = IdempotencyKeyReused(f"The Idempotency-Key {idempotency_key!r} was already used with another amount.")
    body = stored_response(existing, request_fingerprint, conflict)
    return None if body is None else Outcome(json.loads(body), replayed=True)


def _refund(
    partner: PartnerClient,
    payment: Payment,
    idempotency_key: str,
    request_fingerprint: str,
    amount_cents: int,
    now: datetime,
) -> dict[str, Any]:
    if payment.status == DECLINED:
        raise PaymentNotRefundable(f"Payment {payment.payment_id} was declined; there is nothing to refund.")
    remaining = _remaining(payment)
    if amount_cents > remaining:
        raise ExceedsRefundableAmount(amount_cents, remaining)
    if payment.card_id is not None:
        redemptions.lock_points_account_for_refund(payment.card_id)  # before a site redemption can race it
    refund = Refund(
        refund_id=_public_id("RFD"),
        payment_id=payment.id,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        amount_cents=amount_cents,
        status=REFUND_SUCCEEDED,
        response_body="",
        created_at=now,
    )
    db.session.add(refund)
    db.session.flush()  # a concurrent twin with the same key fails here, before money moves
    payment.refunded_cents += amount_cents
    payment.status = REFUNDED if payment.refunded_cents == payment.amount_cents else PARTIALLY_REFUNDED
    if payment.card is not None:
        statement.post_line(
            payment.card,
            statement.REFUND,
            amount_cents,
            f"{partner.merchant_name} {payment.merchant_reference} refund",
            now,
            merchant_name=partner.merchant_name,
            reference=refund.refund_id,
        )
    if payment.status == REFUNDED:
        # Refunded in full: the bank takes back a points credit made on its own site against this purchase.
        redemptions.reverse_site_redemption_of_refund(payment.id, refund.refund_id, partner.merchant_name, now)
    body = schemas.dump(
        schemas.RefundResponse(
            refund_id=refund.refund_id,
            status=refund.status,
            amount=amount_cents,
            payment_id=payment.payment_id,
            refunded_amount=payment.refunded_cents,
            remaining_refundable_amount=_remaining(payment),
            created_at=iso(now),
        )
    )
    refund.response_body = json.dumps(body)
    return body
