"""Pydantic models of the partner API's and the card gateway's request bodies: the one source of each.

They validate requests (strict, unknown fields forbidden, money as Decimal or integer cents, never float) and
generate the OpenAPI ``components.schemas`` of those bodies. Field names are the wire's camelCase aliases.
Bodies are decoded with ``json.loads(parse_float=Decimal)`` before validation (``api/validation.py``), so a
JSON number with a fraction is a Decimal here, never a float.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from .money import AMOUNT_PATTERN, MAX_AMOUNT_CENTS, parse_amount

MAX_POINTS = 10**12
# Keeps "Pay with Points credit reversed: <description>" within a statement line's 200 characters.
MAX_DESCRIPTION_LENGTH = 140
REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# C0 controls (NUL, tab, newline...), DEL and the C1 controls: never part of a field on the wire. PostgreSQL
# refuses NUL in text outright, so one that reached a query would be a 500 instead of this 400.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a NUL, newline, tab or any other C0/C1 control character."""
    return CONTROL_CHARACTERS.search(text) is not None


class WireModel(BaseModel):
    """Strict, closed: a typo in a field name is an error, not silently ignored."""

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=False, frozen=True)


def _whole_number(value: Any) -> Any:
    """A JSON integer, or a number with a zero fraction (50000.0): the same request written differently."""
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value


def _amount(value: Any) -> Decimal:
    return parse_amount(value, "transactionAmount")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _no_control_characters(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("must not contain control characters")
    return value


Reference = Annotated[
    str, Field(pattern=REFERENCE_PATTERN, max_length=64, examples=["HM-000123"]), AfterValidator(_not_blank)
]
Points = Annotated[int, Field(gt=0, le=MAX_POINTS), BeforeValidator(_whole_number)]
Cents = Annotated[int, Field(gt=0, le=MAX_AMOUNT_CENTS, description="Integer cents: 52000 is HK$520.00.")]
WireAmount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    WithJsonSchema(
        {
            "oneOf": [{"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["520.00"]}, {"type": "number"}],
            "description": "The card purchase being offset; a decimal string (numbers parsed as Decimal).",
        }
    ),
]


class EnrollRequest(WireModel):
    last_four: str = Field(alias="lastFourDigitsCardNumber", pattern=r"^[0-9]{4}$")
    phone: Annotated[
        str,
        Field(
            alias="citiCardHolderPhoneNumber",
            min_length=1,
            max_length=20,
            description="The card's registered 8-digit Hong Kong mobile.",
        ),
    ]
    customer_reference: str = Field(
        alias="merchantCustomerReferenceId", pattern=r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,63}$", max_length=64
    )


class ActivateRequest(WireModel):
    code: str = Field(alias="linkageConfirmationCode", pattern=r"^[0-9]{6}$")


class RedemptionOrder(WireModel):
    transaction_amount: WireAmount = Field(alias="transactionAmount")
    currency_code: str = Field(alias="currencyCode", pattern=r"^[A-Z]{3}$", examples=["HKD"])
    points: Points = Field(alias="pointsToRedeem")
    description: Annotated[
        str,
        Field(alias="transactionDescription", min_length=1, max_length=MAX_DESCRIPTION_LENGTH),
        AfterValidator(_not_blank),
        AfterValidator(_no_control_characters),
    ]


class RedemptionRequest(WireModel):
    transaction_reference: Reference = Field(alias="transactionReferenceNumber")
    order: RedemptionOrder = Field(alias="redemptionOrder")


class ReversalRequest(WireModel):
    order_id: str = Field(alias="orderId", pattern=REFERENCE_PATTERN, max_length=40)
    reversal_reference: Reference = Field(alias="reversalReferenceNumber")
    points: Points = Field(alias="pointsToReverse")


def _digits_as_int(value: Any) -> Any:
    """Expiry parts may come as "12" or "28": up to four ASCII digits count as the number."""
    return int(value) if isinstance(value, str) and re.fullmatch(r"[0-9]{1,4}", value) else value


ExpiryPart = Annotated[int, BeforeValidator(_digits_as_int)]


def _full_year(year: int) -> int:
    year = year + 2000 if year < 100 else year  # "28" on the card means 2028
    if not 2000 <= year <= 2099:
        raise ValueError("must be a year such as 2028 (or 28)")
    return year


class CardInput(WireModel):
    """The card: shape errors are 400s; a wrong number, expiry or CVC is a decline, not an error."""

    number: str = Field(pattern=r"^[0-9 ]{1,30}$", description="Digits, spaces allowed. Never stored.")
    expiry_month: Annotated[
        ExpiryPart,
        Field(alias="expiryMonth", ge=1, le=12),
        WithJsonSchema(
            {
                "oneOf": [
                    {"type": "integer", "minimum": 1, "maximum": 12},
                    {"type": "string", "pattern": "^[0-9]{1,2}$"},
                ]
            }
        ),
    ]
    expiry_year: Annotated[
        ExpiryPart,
        Field(alias="expiryYear"),
        AfterValidator(_full_year),
        WithJsonSchema(
            {
                "oneOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]{2,4}$"}],
                "description": "2030 or 30.",
            }
        ),
    ]
    cvc: str = Field(max_length=8, description="3 digits; anything else is declined. Never stored.")
    holder_name: str | None = Field(default=None, alias="holderName", max_length=80)


class PaymentRequest(WireModel):
    amount: Cents
    currency: Literal["HKD"]
    card: CardInput
    merchant_reference: Reference = Field(alias="merchantReference")
    pwp_flow: Literal["native", "legacy"] = Field(
        "native",
        alias="payWithPointsFlow",
        description=(
            "The merchant's Pay with Points flow. native (the default, as when absent): the merchant offers points "
            "at its own checkout through the partner API. legacy: the merchant offers nothing, and after a captured "
            "payment with a points card the bank texts the cardholder a link to its own redemption site."
        ),
    )


class RefundRequest(WireModel):
    amount: Cents


class TokenRequest(WireModel):
    """The token call's form (application/x-www-form-urlencoded); the client authenticates with HTTP Basic."""

    grant_type: Literal["client_credentials"]
    scope: Literal["/api"] = "/api"


# The token call's body is a form, not JSON: documented from its model like the JSON bodies.
FORM_MODELS: tuple[type[WireModel], ...] = (TokenRequest,)

REQUEST_MODELS: tuple[type[WireModel], ...] = (
    EnrollRequest,
    ActivateRequest,
    RedemptionRequest,
    ReversalRequest,
    PaymentRequest,
    RefundRequest,
)


# --- Responses ---------------------------------------------------------------------------------------


class ResponseModel(BaseModel):
    """Response bodies may gain fields (extend, never rename), so their schemas stay open to clients."""

    model_config = ConfigDict(strict=True, frozen=True, populate_by_name=True, serialize_by_alias=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


IsoTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class EnrollResponse(ResponseModel):
    reward_link_code: str = Field(alias="rewardLinkCode")
    link_status: Literal["PENDING_ACTIVATION", "ACTIVE"] = Field(alias="linkStatus")
    masked_phone_number: str = Field(alias="maskedPhoneNumber", examples=["****4567"])
    otp_expires_at: IsoTime | None = Field(default=None, alias="otpExpiresAt")


class ResendOtpResponse(ResponseModel):
    otp_expires_at: IsoTime = Field(alias="otpExpiresAt")
    resends_remaining: int = Field(alias="resendsRemaining", ge=0)


class ActivateResponse(ResponseModel):
    link_status: Literal["ACTIVE"] = Field(default="ACTIVE", alias="linkStatus")


class PointBalance(ResponseModel):
    eligible: bool = Field(alias="isRedemptionEligible")
    available_points: int = Field(alias="availablePointBalance", ge=0)
    conversion_rate: str = Field(alias="programConversionRate", description="Currency per point, a decimal string.")
    currency_code: str = Field(alias="currencyCode", examples=["HKD"])
    point_increment: int = Field(alias="redemptionPointIncrement", ge=1)
    minimum_points: int = Field(alias="minimumPointsToRedeem", ge=0)
    maximum_points: int = Field(alias="maximumPointsToRedeem", ge=0)


DecimalAmount = Annotated[str, Field(pattern=AMOUNT_PATTERN, examples=["520.00"])]
"""Money on the partner API's wire: a decimal string from ``money.cents_to_amount``, never a float."""
CentsAmount = Annotated[int, Field(ge=1, le=MAX_AMOUNT_CENTS, description="Integer cents: 52000 is HK$520.00.")]
Count = Annotated[int, Field(ge=0)]


class RedemptionResponse(ResponseModel):
    """The answer to a redemption, stored as first sent and replayed byte for byte."""

    order_id: str = Field(alias="orderId")
    status: Literal["COMPLETED"]
    points_redeemed: int = Field(alias="pointsRedeemed")
    redeemed_amount: DecimalAmount = Field(alias="redeemedAmount")
    available_point_balance: int = Field(alias="availablePointBalance")
    credit_posting_date: date = Field(alias="creditPostingDate")


class ReversalSummary(ResponseModel):
    reversal_id: str = Field(alias="reversalId")
    reversal_reference: Reference = Field(alias="reversalReferenceNumber")
    points_reversed: int = Field(alias="pointsReversed")
    amount_reversed: DecimalAmount = Field(alias="amountReversed")
    created_at: IsoTime = Field(alias="createdAt")


class Redemption(ResponseModel):
    """A redemption as the look-ups show it now: its status, reversals and what is left to reverse."""

    order_id: str = Field(alias="orderId")
    status: Literal["COMPLETED", "PARTIALLY_REVERSED", "REVERSED"]
    points_redeemed: int = Field(alias="pointsRedeemed")
    redeemed_amount: DecimalAmount = Field(alias="redeemedAmount")
    available_point_balance: Count = Field(alias="availablePointBalance")
    credit_posting_date: date = Field(alias="creditPostingDate")
    transaction_reference: Reference = Field(alias="transactionReferenceNumber")
    transaction_amount: DecimalAmount = Field(alias="transactionAmount")
    points_reversed: Count = Field(alias="pointsReversed")
    remaining_reversible_points: Count = Field(alias="remainingReversiblePoints")
    created_at: IsoTime = Field(alias="createdAt")
    reversals: list[ReversalSummary]


class ReversalResponse(ResponseModel):
    """The answer to a reversal, stored as first sent and replayed byte for byte."""

    reversal_id: str = Field(alias="reversalId")
    points_reversed: int = Field(alias="pointsReversed")
    amount_reversed: DecimalAmount = Field(alias="amountReversed")
    remaining_reversible_points: Count = Field(alias="remainingReversiblePoints")
    available_point_balance: Count = Field(alias="availablePointBalance")


class CardSummary(ResponseModel):
    last4: str = Field(pattern=r"^[0-9]{1,4}$")
    brand: Literal["VISA", "MASTERCARD", "AMEX", "UNKNOWN"]
    issued_by_summit: bool = Field(alias="issuedBySummit")
    points_eligible: bool = Field(alias="pointsEligible", description="A Summit card in a points programme, active.")


DeclineCode = Literal["invalidCardNumber", "expiredCard", "incorrectCvc", "cardFrozen", "insufficientCredit"]


class Payment(ResponseModel):
    """The answer to a payment (201): CAPTURED or DECLINED, stored and replayed for a repeated key."""

    payment_id: str = Field(alias="paymentId")
    status: Literal["CAPTURED", "DECLINED"]
    decline_code: DeclineCode | None = Field(alias="declineCode")
    amount: CentsAmount
    currency: str
    merchant_reference: Reference = Field(alias="merchantReference")
    card: CardSummary
    created_at: IsoTime = Field(alias="createdAt")


class RefundSummary(ResponseModel):
    refund_id: str = Field(alias="refundId")
    status: Literal["SUCCEEDED"]
    amount: CentsAmount
    created_at: IsoTime = Field(alias="createdAt")


class PaymentDetail(ResponseModel):
    """A payment as the look-ups show it now: its current status, refunds and what is left to refund."""

    payment_id: str = Field(alias="paymentId")
    status: Literal["CAPTURED", "DECLINED", "PARTIALLY_REFUNDED", "REFUNDED"]
    decline_code: DeclineCode | None = Field(alias="declineCode")
    amount: CentsAmount
    currency: str
    merchant_reference: Reference = Field(alias="merchantReference")
    card: CardSummary
    created_at: IsoTime = Field(alias="createdAt")
    refunded_amount: Count = Field(alias="refundedAmount")
    remaining_refundable_amount: Count = Field(alias="remainingRefundableAmount")
    refunds: list[RefundSummary]


class PaymentList(ResponseModel):
    payments: list[PaymentDetail]


class RefundResponse(ResponseModel):
    """The answer to a refund (201), stored and replayed for a repeated key."""

    refund_id: str = Field(alias="refundId")
    status: Literal["SUCCEEDED"]
    amount: CentsAmount
    payment_id: str = Field(alias="paymentId")
    refunded_amount: Count = Field(alias="refundedAmount")
    remaining_refundable_amount: Count = Field(alias="remainingRefundableAmount")
    created_at: IsoTime = Field(alias="createdAt")


class Error(ResponseModel):
    """Every error body; some add fields beside these three (e.g. attemptsRemaining), so it stays open."""

    type: Literal["invalid", "error", "fatal"]
    code: str = Field(description="A stable code listed with each operation.")
    details: str = Field(description="Human text; do not parse.")


class TokenResponse(ResponseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(json_schema_extra={"examples": [1800]})
    scope: Literal["/api"]


OAuthErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
]


class OAuthError(Error):
    """The token call's errors also carry OAuth 2.0's fields (RFC 6749 §5.2)."""

    error: OAuthErrorCode
    error_description: str


RESPONSE_MODELS: tuple[type[ResponseModel], ...] = (
    TokenResponse,
    OAuthError,
    EnrollResponse,
    ResendOtpResponse,
    ActivateResponse,
    PointBalance,
    RedemptionResponse,
    Redemption,
    ReversalResponse,
    Payment,
    PaymentDetail,
    PaymentList,
    RefundResponse,
    Error,
)
"""Every response model; nested ones (ReversalSummary, CardSummary, RefundSummary) come with their $defs."""


def dump(answer: ResponseModel) -> dict[str, Any]:
    """A response model as the JSON-ready dict the wire shows (camelCase aliases, dates as ISO strings)."""
    return answer.model_dump(mode="json", by_alias=True)
