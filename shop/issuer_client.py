"""The only code in the shop that speaks to Summit Bank: the partner API and the card gateway, over HTTP.

One class with typed methods. Every call has explicit timeouts and the partner headers; money travels as
decimal strings (Decimal, never float); error bodies {type, code, details} become named exceptions:

- ``IssuerError``: the bank answered with an error (``.code``, ``.status``, ``.details``, ``.body``);
- ``IssuerUnavailable``: the bank could not be reached or answered 5xx on a call that changes no money;
- ``OutcomeUnknown``: a call that changes money timed out or lost its connection (or got a 5xx): it may or may
  not have happened, so the caller must look it up by its reference, never guess.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import requests
from flask import current_app
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

TOKEN_PATH = "/gcb/api/clientCredentials/oauth2/token/hk/gcb"
REWARDS_PATH = "/v1/apac/rewards"
PAYMENTS_PATH = "/gateway/v1/payments"
TOKEN_MARGIN_SECONDS = 60  # refetch a little before the bank's expiry, so a token never dies mid-call
CENT = Decimal("0.01")

log = logging.getLogger(__name__)


# --- Errors -------------------------------------------------------------------------------------


class IssuerError(Exception):
    """The bank refused a call; ``code`` is its stable error code."""

    def __init__(self, code: str, details: str = "", status: int = 0, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {details}" if details else code)
        self.code = code
        self.details = details
        self.status = status
        self.body = body or {}


class IssuerUnavailable(IssuerError):
    """The bank could not be reached, timed out or answered 5xx; nothing changed, try again later."""


class OutcomeUnknown(IssuerError):
    """A money-changing call may or may not have happened: resolve it with a look-up by reference."""


class InvalidToken(IssuerError):
    """The access token was refused even after fetching a fresh one."""


class AccountNotFound(IssuerError):
    """No points card matches the last four digits and the mobile number."""


class NotEligibleToRedeem(IssuerError):
    """The card is frozen or not in a points programme."""


class OtpDeliveryFailed(IssuerError):
    """The bank could not deliver the SMS."""


class OtpResendTooSoon(IssuerError):
    """A new code was asked for inside the cooldown."""


class MaxResendsExceeded(IssuerError):
    """No more new codes for this link: enrol again."""


class InvalidOtp(IssuerError):
    """The code is wrong; ``attempts_remaining`` says how many tries are left."""

    @property
    def attempts_remaining(self) -> int | None:
        value = self.body.get("attemptsRemaining")
        return value if isinstance(value, int) else None


class OtpExpired(IssuerError):
    """The code is too old: send a new one."""


class OtpLocked(IssuerError):
    """Too many wrong codes: the link is locked, enrol again."""


class InvalidRewardLink(IssuerError):
    """The link code is unknown (or another merchant's) or not active (e.g. after a sandbox reset)."""


class RedemptionRejected(IssuerError):
    """A redemption or reversal broke a business rule (balance, minimum, increment, ...)."""


class AlreadyProcessed(IssuerError):
    """The reference or idempotency key was already used with a different body (409)."""


class NotFound(IssuerError):
    """The redemption, payment or resource does not exist for this merchant."""


ERRORS_BY_CODE: dict[str, type[IssuerError]] = {
    "invalidToken": InvalidToken,
    "accountNotFound": AccountNotFound,
    "notEligibleToRedeem": NotEligibleToRedeem,
    "otpDeliveryFailed": OtpDeliveryFailed,
    "otpResendTooSoon": OtpResendTooSoon,
    "maxResendsExceeded": MaxResendsExceeded,
    "invalidLinkageConfirmationCode": InvalidOtp,
    "otpExpired": OtpExpired,
    "maxAttemptsExceeded": OtpLocked,
    "invalidRewardLinkCode": InvalidRewardLink,
    "inactiveRewardLinkCode": InvalidRewardLink,
    "inSufficientPointBalance": RedemptionRejected,
    "belowMinimumPointsAllowed": RedemptionRejected,
    "exceedsMaximumPointsAllowed": RedemptionRejected,
    "exceedsMaximumAmountAllowed": RedemptionRejected,
    "invalidPointsAndAmountCombination": RedemptionRejected,
    "belowMinimumTransactionAmount": RedemptionRejected,
    "exceedsReversiblePoints": RedemptionRejected,
    "transactionAlreadyRedeemed": AlreadyProcessed,
    "reversalAlreadyProcessed": AlreadyProcessed,
    "redemptionNotFound": NotFound,
    "paymentNotFound": NotFound,
    "notFound": NotFound,
}


# --- Money on the wire --------------------------------------------------------------------------


def cents_to_amount(cents: int) -> str:
    """HK cents as the decimal string the partner API expects: 52000 -> "520.00"."""
    return str((Decimal(cents) / 100).quantize(CENT))


def amount_to_cents(amount: Any) -> int:
    """A decimal amount from the wire ("200.00", or a JSON number parsed as Decimal) as exact cents."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError) as error:
        raise IssuerError("invalidResponse", f"Not an amount: {amount!r}") from error
    cents = value * 100
    if cents != cents.to_integral_value():
        # The bank promises exact cents; rounding here would hide a disagreement about money.
        raise IssuerError("invalidResponse", f"Amount is not whole cents: {amount!r}")
    return int(cents.to_integral_value(rounding=ROUND_HALF_UP))


def _decimal(value: Any, default: str = "0") -> Decimal:
    try:
        return Decimal(str(value if value is not None else default))
    except InvalidOperation as error:
        raise IssuerError("invalidResponse", f"Not a decimal: {value!r}") from error


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # The shop works in naive UTC, as the bank's sandbox clock does.
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


# --- Response shapes ----------------------------------------------------------------------------


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


@dataclass
class _Token:
    value: str
    expires_at: float  # time.monotonic()


# --- The client ---------------------------------------------------------------------------------


@dataclass
class IssuerClient:
    """Summit Bank's partner API and card gateway, as the shop's partner client sees them."""

    base_url: str
    client_id: str
    client_secret: str
    timeout: int | float = 5  # seconds; config gives ints (JSON from the environment may give fractions)
    connect_timeout: int | float = 2
    session: requests.Session = field(default_factory=requests.Session)
    # Called with (method, path) just before each request goes out: the app checks that no database
    # transaction is open while it waits on the bank (see no_transaction_open).
    before_request: Callable[[str, str], None] | None = None

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._token: _Token | None = None
        self._token_lock = threading.Lock()

    # Token ------------------------------------------------------------------------------------

    def access_token(self) -> str:
        """A cached bearer token, fetched again shortly before it expires."""
        with self._token_lock:
            if self._token is None or self._token.expires_at <= time.monotonic():
                self._token = self._fetch_token()
            return self._token.value

    def invalidate_token(self) -> None:
        with self._token_lock:
            self._token = None

    def _fetch_token(self) -> _Token:
        if self.before_request is not None:
            self.before_request("POST", TOKEN_PATH)
        try:
            response = self.session.post(
                self.base_url + TOKEN_PATH,
                data={"grant_type": "client_credentials", "scope": "/api"},
                auth=(self.client_id, self.client_secret),
                headers={"Accept": "application/json"},
                timeout=(self.connect_timeout, self.timeout),
            )
        except requests.RequestException as error:
            raise IssuerUnavailable("issuerUnavailable", f"Token request failed: {type(error).__name__}") from None
        if response.status_code != 200:
            raise self._error(response, money=False)
        body = self._json(response)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise IssuerError("invalidResponse", "The token response has no access_token.", response.status_code)
        expires_in = body.get("expires_in") if isinstance(body.get("expires_in"), int) else 300
        lifetime = max(expires_in - TOKEN_MARGIN_SECONDS, expires_in // 2)
        return _Token(token, time.monotonic() + lifetime)

    # Partner API ------------------------------------------------------------------------------

    def enroll(self, last4: str, phone: str, customer_reference: str) -> Enrollment:
        """Link the shopper's card; the bank texts an OTP unless the link is already ACTIVE."""
        body = self._call(
            "POST",
            f"{REWARDS_PATH}/linkage",
            json={
                "lastFourDigitsCardNumber": last4,
                "citiCardHolderPhoneNumber": phone,
                "merchantCustomerReferenceId": customer_reference,
            },
        )
        return Enrollment(
            reward_link_code=str(body.get("rewardLinkCode", "")),
            link_status=str(body.get("linkStatus", "")),
            masked_phone=str(body.get("maskedPhoneNumber", "")),
            otp_expires_at=_datetime(body.get("otpExpiresAt")),
        )

    def resend_otp(self, reward_link_code: str) -> OtpResent:
        """Ask the bank for a new OTP (the old one stops working)."""
        body = self._call("POST", f"{REWARDS_PATH}/{reward_link_code}/activations/otp")
        remaining = body.get("resendsRemaining")
        return OtpResent(_datetime(body.get("otpExpiresAt")), remaining if isinstance(remaining, int) else None)

    def verify_otp(self, reward_link_code: str, otp: str) -> str:
        """Activate the link with the OTP the shopper typed. Returns the link status (ACTIVE)."""
        body = self._call(
            "PUT", f"{REWARDS_PATH}/{reward_link_code}/activations", json={"linkageConfirmationCode": otp}
        )
        return str(body.get("linkStatus", "ACTIVE"))

    def balance(self, reward_link_code: str) -> Balance:
        """The live points balance and the programme's redemption rules."""
        body = self._call("GET", f"{REWARDS_PATH}/{reward_link_code}/pointBalance")
        available = _int(body.get("availablePointBalance"))
        return Balance(
            is_redemption_eligible=bool(body.get("isRedemptionEligible", False)),
            available_points=available,
            conversion_rate=_decimal(body.get("programConversionRate")),
            currency_code=str(body.get("currencyCode", "HKD")),
            increment=max(_int(body.get("redemptionPointIncrement"), 1), 1),
            minimum=_int(body.get("minimumPointsToRedeem")),
            maximum=_int(body.get("maximumPointsToRedeem"), available),
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
        """Redeem points against a purchase; ``reference`` (the order) makes a retry safe."""
        body, response = self._call(
            "POST",
            f"{REWARDS_PATH}/{reward_link_code}/redemption",
            json={
                "transactionReferenceNumber": reference,
                "redemptionOrder": {
                    "transactionAmount": cents_to_amount(amount_cents),
                    "currencyCode": currency_code,
                    "pointsToRedeem": points,
                    "transactionDescription": description,
                },
            },
            money=True,
            with_response=True,
        )
        return _redemption(body, replayed=_replayed(response), reference=reference)

    def get_redemption(self, order_id: str) -> Redemption:
        """A redemption and its reversals, by the bank's order id."""
        return _redemption(self._call("GET", f"{REWARDS_PATH}/redemption/{order_id}"))

    def find_redemption(self, reference: str) -> Redemption:
        """The redemption made with this transaction reference (raises NotFound if none)."""
        body = self._call("GET", f"{REWARDS_PATH}/redemption", params={"transactionReferenceNumber": reference})
        items = body.get("redemptions") if isinstance(body.get("redemptions"), list) else None
        if items is not None:
            if not items:
                raise NotFound("redemptionNotFound", f"No redemption with reference {reference}.", 404)
            body = items[0]
        return _redemption(body, reference=reference)

    def reverse(self, order_id: str, reference: str, points: int) -> Reversal:
        """Give back some or all of a redemption's points; ``reference`` makes a retry safe."""
        body = self._call(
            "POST",
            f"{REWARDS_PATH}/redemption/reversals",
            json={"orderId": order_id, "reversalReferenceNumber": reference, "pointsToReverse": points},
            money=True,
        )
        return _reversal(body, reference=reference)

    def unlink(self, reward_link_code: str) -> None:
        """Remove the link (the shopper will verify again next time)."""
        self._call("DELETE", f"{REWARDS_PATH}/{reward_link_code}")

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
        """Charge a card. The card details go to the gateway only; nothing here keeps or logs them."""
        body, response = self._call(
            "POST",
            PAYMENTS_PATH,
            json={
                "amount": amount_cents,
                "currency": currency_code,
                "card": {
                    "number": card_number,
                    "expiryMonth": expiry_month,
                    "expiryYear": expiry_year,
                    "cvc": cvc,
                    "holderName": holder_name,
                },
                "merchantReference": merchant_reference,
            },
            headers={"Idempotency-Key": idempotency_key},
            money=True,
            with_response=True,
        )
        return _payment(body, replayed=_replayed(response), merchant_reference=merchant_reference)

    def get_payment(self, payment_id: str) -> Payment:
        """A payment by the gateway's id."""
        return _payment(self._call("GET", f"{PAYMENTS_PATH}/{payment_id}"))

    def find_payments(self, merchant_reference: str) -> list[Payment]:
        """Every payment the gateway holds for this merchant reference (how a timed-out payment is resolved)."""
        body = self._call("GET", PAYMENTS_PATH, params={"merchantReference": merchant_reference})
        items = body.get("payments", body.get("data", []))
        if not isinstance(items, list):
            raise IssuerError("invalidResponse", "The payment look-up did not return a list.")
        return [_payment(item, merchant_reference=merchant_reference) for item in items if isinstance(item, dict)]

    def refund(self, payment_id: str, amount_cents: int, idempotency_key: str) -> Refund:
        """Refund part or all of a captured payment."""
        body = self._call(
            "POST",
            f"{PAYMENTS_PATH}/{payment_id}/refunds",
            json={"amount": amount_cents},
            headers={"Idempotency-Key": idempotency_key},
            money=True,
        )
        amount = body.get("amount")
        return Refund(
            refund_id=str(body.get("refundId", "")),
            status=str(body.get("status", "")),
            amount_cents=amount if isinstance(amount, int) else amount_cents,
        )

    # Transport --------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        money: bool = False,
        with_response: bool = False,
    ) -> Any:
        """Send one call with the partner headers; on a refused token fetch a new one and try once more.

        A 401 means the bank did nothing, so repeating even a money-changing call then is safe.
        """
        for attempt in (1, 2):
            response = self._send(method, path, json=json, params=params, headers=headers, money=money)
            if response.status_code == 401 and attempt == 1 and _code(response) == "invalidToken":
                self.invalidate_token()
                continue
            if response.status_code >= 400:
                raise self._error(response, money=money)
            body = self._json(response) if response.content else {}
            return (body, response) if with_response else body
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method, path, *, json, params, headers, money: bool) -> requests.Response:
        all_headers = {
            "Authorization": f"Bearer {self.access_token()}",
            "client_id": self.client_id,
            "uuid": str(uuid.uuid4()),
            "Accept": "application/json",
            **(headers or {}),
        }
        if self.before_request is not None:
            self.before_request(method, path)
        try:
            return self.session.request(
                method,
                self.base_url + path,
                json=json,
                params=params,
                headers=all_headers,
                timeout=(self.connect_timeout, self.timeout),
            )
        except requests.RequestException as error:
            # Only the exception's type is kept: a message could echo the request, and that holds card data.
            name = type(error).__name__
            if money and not _never_sent(error):
                raise OutcomeUnknown("outcomeUnknown", f"{method} {path}: {name}") from None
            raise IssuerUnavailable("issuerUnavailable", f"{method} {path}: {name}") from None

    def _error(self, response: requests.Response, *, money: bool) -> IssuerError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        code = str(body.get("code") or f"http{response.status_code}")
        details = str(body.get("details") or response.reason or "")
        if response.status_code >= 500 and money:
            # A 5xx from a money call may have come after the commit: look it up, never assume.
            return OutcomeUnknown(code, details, response.status_code, body)
        if response.status_code >= 500 and code not in ERRORS_BY_CODE:
            return IssuerUnavailable(code, details, response.status_code, body)
        if response.status_code == 404 and code not in ERRORS_BY_CODE:
            return NotFound(code, details, response.status_code, body)
        if response.status_code == 409 and code not in ERRORS_BY_CODE:
            return AlreadyProcessed(code, details, response.status_code, body)
        error_class = ERRORS_BY_CODE.get(code, IssuerError)
        return error_class(code, details, response.status_code, body)

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        try:
            # Numbers with a fraction are parsed as Decimal: money never passes through float.
            body = json.loads(response.content, parse_float=Decimal)
        except ValueError as error:
            raise IssuerError("invalidResponse", "The bank's answer is not JSON.", response.status_code) from error
        if isinstance(body, list):
            return {"data": body}
        if not isinstance(body, dict):
            raise IssuerError("invalidResponse", "The bank's answer is not a JSON object.", response.status_code)
        return body


def _never_sent(error: requests.RequestException) -> bool:
    """True when the connection was never made, so the bank cannot have seen the request."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(error, requests.exceptions.ConnectionError):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


def _code(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""


def _replayed(response: requests.Response) -> bool:
    return response.headers.get("Idempotent-Replayed", "").lower() == "true"


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return default


def _reversal(body: dict[str, Any], reference: str = "") -> Reversal:
    remaining = body.get("remainingReversiblePoints")
    balance = body.get("availablePointBalance")
    return Reversal(
        reversal_id=str(body.get("reversalId", "")),
        points_reversed=_int(body.get("pointsReversed")),
        amount_reversed_cents=amount_to_cents(body.get("amountReversed", "0")),
        reference=str(body.get("reversalReferenceNumber") or reference),
        remaining_reversible_points=_int(remaining) if remaining is not None else None,
        available_point_balance=_int(balance) if balance is not None else None,
    )


def _redemption(body: dict[str, Any], replayed: bool = False, reference: str = "") -> Redemption:
    reversals = body.get("reversals") if isinstance(body.get("reversals"), list) else []
    balance = body.get("availablePointBalance")
    return Redemption(
        order_id=str(body.get("orderId", "")),
        status=str(body.get("status", "")),
        points_redeemed=_int(body.get("pointsRedeemed")),
        redeemed_amount_cents=amount_to_cents(body.get("redeemedAmount", "0")),
        available_point_balance=_int(balance) if balance is not None else None,
        credit_posting_date=str(body.get("creditPostingDate") or ""),
        transaction_reference=str(body.get("transactionReferenceNumber") or reference),
        reversals=tuple(_reversal(item) for item in reversals if isinstance(item, dict)),
        replayed=replayed,
    )


def _payment(body: dict[str, Any], replayed: bool = False, merchant_reference: str = "") -> Payment:
    card = body.get("card") if isinstance(body.get("card"), dict) else {}
    amount = body.get("amount")
    refunded = body.get("refundedAmount", body.get("amountRefunded", 0))
    return Payment(
        payment_id=str(body.get("paymentId", "")),
        status=str(body.get("status", "")),
        decline_code=body.get("declineCode") or None,
        last4=str(card.get("last4", "")),
        brand=str(card.get("brand", "")),
        issued_by_summit=bool(card.get("issuedBySummit", False)),
        points_eligible=bool(card.get("pointsEligible", False)),
        amount_cents=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        merchant_reference=str(body.get("merchantReference") or merchant_reference),
        refunded_cents=_int(refunded),
        replayed=replayed,
    )


# --- The app's client ---------------------------------------------------------------------------


class TransactionOpenDuringIssuerCall(RuntimeError):
    """A database transaction was open while the shop called the bank (it would hold SQLite's write lock)."""


def no_transaction_open(method: str, path: str) -> None:
    """The app's ``before_request`` hook: the shop must never wait on the bank inside a transaction.

    Raises under TESTING so a regression fails the tests; in a running shop it logs instead of failing the
    shopper's request.
    """
    from .extensions import db  # the client itself stays free of the database

    if not db.session().in_transaction():
        return
    message = f"A database transaction is open during the issuer call {method} {path}."
    if current_app.testing:
        raise TransactionOpenDuringIssuerCall(message)
    log.error(message)


def get_issuer_client() -> IssuerClient:
    """The app's issuer client, created on first use from config; tests install a fake in its place."""
    extensions = current_app.extensions
    client = extensions.get("issuer_client")
    if client is None:
        config = current_app.config
        client = IssuerClient(
            base_url=config["ISSUER_URL"],
            client_id=config["ISSUER_CLIENT_ID"],
            client_secret=config["ISSUER_CLIENT_SECRET"],
            timeout=config["ISSUER_TIMEOUT_SECONDS"],
            connect_timeout=config.get("ISSUER_CONNECT_TIMEOUT_SECONDS", 2),
            before_request=no_transaction_open,
        )
        extensions["issuer_client"] = client
    return client
