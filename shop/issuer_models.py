"""Summit Bank's answers as the shop reads them: pydantic models of each body, and the results the shop keeps.

These are the shop's own models, written from DESIGN.md's partner-API and gateway contract (the apps share no
code). Each answer model is strict: a required field that is missing, null or of the wrong JSON type fails
validation, and ``issuer_client`` turns that into an ``invalidResponse`` error before anything is stored. Money
is a decimal string (a JSON number is read as ``Decimal`` too, never float) and must be whole cents; points are
JSON integers (``true`` or ``"50000"`` is refused); times are ISO 8601 strings.

Unknown fields in an answer are ignored on purpose: the bank may add fields to its answers at any time, and a
client that broke on them would turn every extension of the API into an outage.

Each answer model knows its result (``to_result``): the plain frozen dataclasses the rest of the shop uses, in
integer cents and naive UTC. The shop's fake bank (``shop/tests/fakes.py``) builds its bodies with these same
models, so it cannot forget a field the client requires.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, PlainValidator
from pydantic.alias_generators import to_camel

# --- Wire types ---------------------------------------------------------------------------------


def _decimal(value: object) -> Decimal:
    """A decimal string ("200.00"), or a JSON number already read as Decimal or int; never float or bool."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError('must be a decimal string such as "200.00"')
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError('must be a decimal string such as "200.00"') from None
    if not number.is_finite():
        raise ValueError("must be a finite decimal")
    return number


def whole_cents(value: object) -> Decimal:
    """A wire amount as Decimal, refused (ValueError) unless it is a finite number of whole cents."""
    number = _decimal(value)
    if number * 100 != (number * 100).to_integral_value():
        # The bank promises exact cents; rounding here would hide a disagreement about money.
        raise ValueError("must be whole cents")
    return number


def _timestamp(value: object) -> datetime:
    """An ISO 8601 time as naive UTC, the way the shop (and the bank's sandbox clock) keeps times."""
    if isinstance(value, datetime):  # a model built in Python (the fake bank); JSON never gives one
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 time such as 2026-11-26T09:05:00Z") from None
    else:
        raise ValueError("must be an ISO 8601 time string")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be an ISO 8601 date such as 2026-11-27")


# Written back as the bank writes them (the fake bank builds its bodies with these models).
_AS_TEXT = PlainSerializer(str, return_type=str, when_used="json")
Rate = Annotated[Decimal, PlainValidator(_decimal), Field(gt=0), _AS_TEXT]
Amount = Annotated[Decimal, PlainValidator(whole_cents), Field(ge=0), _AS_TEXT]
Timestamp = Annotated[
    datetime, PlainValidator(_timestamp), PlainSerializer(lambda t: t.isoformat() + "Z", return_type=str)
]
PostingDate = Annotated[date, PlainValidator(_date), PlainSerializer(date.isoformat, return_type=str)]
Points = Annotated[int, Field(ge=0)]
Cents = Annotated[int, Field(ge=0)]
Text = Annotated[str, Field(min_length=1)]


def _not_blank(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


Identifier = Annotated[str, BeforeValidator(_not_blank), Field(min_length=1)]


def to_cents(amount: Decimal) -> int:
    """A validated amount (whole cents) as integer cents."""
    return int(amount * 100)


class Answer(BaseModel):
    """An answer body from the bank: strict types, camelCase on the wire, unknown fields ignored (see above)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True)


# --- Results the shop uses ----------------------------------------------------------------------


@dataclass(frozen=True)
class Enrollment:
    reward_link_code: str
    link_status: str  # PENDING_ACTIVATION | ACTIVE
    masked_phone: str
    otp_expires_at: datetime | None

    @property
    def is_active(self) -> bool:
        return self.link_status == "ACTIVE"


@dataclass(frozen=True)
class OtpResent:
    otp_expires_at: datetime | None
    resends_remaining: int | None


@dataclass(frozen=True)
class Balance:
    is_redemption_eligible: bool
    available_points: int
    conversion_rate: Decimal  # currency per point
    currency_code: str
    increment: int
    minimum: int
    maximum: int


@dataclass(frozen=True)
class Reversal:
    reversal_id: str
    points_reversed: int
    amount_reversed_cents: int
    reference: str = ""
    remaining_reversible_points: int | None = None
    available_point_balance: int | None = None


@dataclass(frozen=True)
class Redemption:
    order_id: str
    status: str
    points_redeemed: int
    redeemed_amount_cents: int
    available_point_balance: int | None = None
    credit_posting_date: str = ""
    transaction_reference: str = ""
    reversals: tuple[Reversal, ...] = ()
    replayed: bool = False

    @property
    def points_reversed(self) -> int:
        return sum(reversal.points_reversed for reversal in self.reversals)


@dataclass(frozen=True)
class Payment:
    payment_id: str
    status: str  # CAPTURED | DECLINED | REFUNDED | PARTIALLY_REFUNDED
    decline_code: str | None
    last4: str
    brand: str
    issued_by_summit: bool
    points_eligible: bool
    amount_cents: int | None = None
    merchant_reference: str = ""
    refunded_cents: int = 0
    replayed: bool = False

    @property
    def captured(self) -> bool:
        """Money was taken (refunds since then do not undo the capture)."""
        return self.status in ("CAPTURED", "REFUNDED", "PARTIALLY_REFUNDED")


@dataclass(frozen=True)
class Refund:
    refund_id: str
    status: str
    amount_cents: int | None = None


# --- Token and errors ---------------------------------------------------------------------------


class TokenAnswer(BaseModel):
    """200 from the token endpoint (OAuth 2.0 names, snake_case on the wire)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    access_token: Text
    expires_in: Annotated[int, Field(gt=0)]  # seconds; the client caches the token a little less long
    token_type: Annotated[str, Field(pattern=r"^(?i:bearer)$")] = "Bearer"
    scope: str = ""


class ErrorAnswer(Answer):
    """Every error body: ``{type, code, details}`` (the token endpoint adds OAuth's ``error`` fields)."""

    type: Literal["invalid", "error", "fatal"]
    code: Text
    details: str = ""
    attempts_remaining: Annotated[int, Field(ge=0)] | None = None  # invalidLinkageConfirmationCode
    retry_after_seconds: Annotated[int, Field(ge=0)] | None = None  # otpResendTooSoon


# --- Partner API --------------------------------------------------------------------------------


class EnrollmentAnswer(Answer):
    """200 from POST /v1/apac/rewards/linkage."""

    reward_link_code: Identifier
    link_status: Literal["PENDING_ACTIVATION", "ACTIVE"]
    masked_phone_number: str
    otp_expires_at: Timestamp | None = None  # null once the link is ACTIVE (no OTP was sent)

    def to_result(self) -> Enrollment:
        return Enrollment(self.reward_link_code, self.link_status, self.masked_phone_number, self.otp_expires_at)


class OtpResentAnswer(Answer):
    """202 from POST /v1/apac/rewards/{rewardLinkCode}/activations/otp."""

    otp_expires_at: Timestamp
    resends_remaining: Annotated[int, Field(ge=0)]

    def to_result(self) -> OtpResent:
        return OtpResent(self.otp_expires_at, self.resends_remaining)


class ActivationAnswer(Answer):
    """200 from PUT /v1/apac/rewards/{rewardLinkCode}/activations (the bank may also answer with no body)."""

    link_status: Literal["ACTIVE"] = "ACTIVE"


class BalanceAnswer(Answer):
    """200 from GET /v1/apac/rewards/{rewardLinkCode}/pointBalance."""

    is_redemption_eligible: bool
    available_point_balance: Points
    program_conversion_rate: Rate  # currency per point
    currency_code: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    redemption_point_increment: Annotated[int, Field(ge=1)]
    minimum_points_to_redeem: Points
    maximum_points_to_redeem: Points

    def to_result(self) -> Balance:
        return Balance(
            is_redemption_eligible=self.is_redemption_eligible,
            available_points=self.available_point_balance,
            conversion_rate=self.program_conversion_rate,
            currency_code=self.currency_code,
            increment=self.redemption_point_increment,
            minimum=self.minimum_points_to_redeem,
            maximum=self.maximum_points_to_redeem,
        )


class ReversalAnswer(Answer):
    """200 from POST /v1/apac/rewards/redemption/reversals."""

    reversal_id: Identifier
    points_reversed: Points
    amount_reversed: Amount
    remaining_reversible_points: Points
    available_point_balance: Points

    def to_result(self, reference: str) -> Reversal:
        return Reversal(
            reversal_id=self.reversal_id,
            points_reversed=self.points_reversed,
            amount_reversed_cents=to_cents(self.amount_reversed),
            reference=reference,
            remaining_reversible_points=self.remaining_reversible_points,
            available_point_balance=self.available_point_balance,
        )


class ReversalEntry(Answer):
    """One reversal inside a redemption look-up."""

    reversal_id: Identifier
    reversal_reference_number: Identifier
    points_reversed: Points
    amount_reversed: Amount

    def to_result(self) -> Reversal:
        return Reversal(
            reversal_id=self.reversal_id,
            points_reversed=self.points_reversed,
            amount_reversed_cents=to_cents(self.amount_reversed),
            reference=self.reversal_reference_number,
        )


class RedemptionAnswer(Answer):
    """200 from POST /v1/apac/rewards/{rewardLinkCode}/redemption."""

    order_id: Identifier
    status: Text
    points_redeemed: Points
    redeemed_amount: Amount
    available_point_balance: Points
    credit_posting_date: PostingDate

    def to_result(self, reference: str, replayed: bool = False) -> Redemption:
        return Redemption(
            order_id=self.order_id,
            status=self.status,
            points_redeemed=self.points_redeemed,
            redeemed_amount_cents=to_cents(self.redeemed_amount),
            available_point_balance=self.available_point_balance,
            credit_posting_date=self.credit_posting_date.isoformat(),
            transaction_reference=reference,
            replayed=replayed,
        )


class RedemptionDetailsAnswer(RedemptionAnswer):
    """200 from the redemption look-ups (by orderId or transactionReferenceNumber): with its reversals."""

    transaction_reference_number: Identifier
    reversals: list[ReversalEntry]

    def to_result(self, reference: str = "", replayed: bool = False) -> Redemption:
        redemption = super().to_result(self.transaction_reference_number, replayed)
        reversals = tuple(entry.to_result() for entry in self.reversals)
        return replace(redemption, reversals=reversals)


# --- Card gateway -------------------------------------------------------------------------------


class CardSummary(Answer):
    """The card as the gateway describes it (never the number)."""

    last4: Annotated[str, Field(pattern=r"^[0-9]{0,4}$")]
    brand: str
    issued_by_summit: bool
    points_eligible: bool


class PaymentAnswer(Answer):
    """201 from POST /gateway/v1/payments, and each payment of the look-ups."""

    payment_id: Identifier
    status: Literal["CAPTURED", "DECLINED", "REFUNDED", "PARTIALLY_REFUNDED"]
    decline_code: str | None = None
    amount: Cents
    card: CardSummary
    merchant_reference: str = ""
    refunded_amount: Cents = 0

    def to_result(self, merchant_reference: str = "", replayed: bool = False) -> Payment:
        return Payment(
            payment_id=self.payment_id,
            status=self.status,
            decline_code=self.decline_code or None,
            last4=self.card.last4,
            brand=self.card.brand,
            issued_by_summit=self.card.issued_by_summit,
            points_eligible=self.card.points_eligible,
            amount_cents=self.amount,
            merchant_reference=self.merchant_reference or merchant_reference,
            refunded_cents=self.refunded_amount,
            replayed=replayed,
        )


class PaymentListAnswer(Answer):
    """200 from GET /gateway/v1/payments?merchantReference=..."""

    payments: list[PaymentAnswer]


class RefundAnswer(Answer):
    """201 from POST /gateway/v1/payments/{paymentId}/refunds."""

    refund_id: Identifier
    status: Text
    amount: Cents

    def to_result(self) -> Refund:
        return Refund(self.refund_id, self.status, self.amount)
