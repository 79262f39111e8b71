"""The only code in the shop that speaks to Summit Bank: the partner API and the card gateway, over HTTP.

One class with typed methods. Every call has explicit timeouts and the partner headers; money travels as
decimal strings (Decimal, never float). Every path is relative to one base URL, the bank's API base
(``<issuer>/gcb/api`` by default, setting ``ISSUER_API_URL``). Answers are read strictly with the shop's own
models (``issuer_models``); error bodies {type, code, details} become named exceptions:

- ``IssuerError``: the bank answered with an error (``.code``, ``.status``, ``.details``, ``.body``);
- ``InvalidResponse``: the bank answered a call that changes no money with a body the shop cannot read (a
  required field missing or of the wrong type): code ``invalidResponse``, and nothing is stored;
- ``IssuerUnavailable``: the bank could not be reached or answered 5xx on a call that changes no money;
- ``OutcomeUnknown``: a call that changes money timed out or lost its connection (or got a 5xx), or the bank
  said yes with an answer the shop cannot read (code ``invalidResponse``: the money may well have moved, but
  the shop does not know the ids or amounts): the caller must look it up by its reference, never guess.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import requests
from flask import current_app
from pydantic import ValidationError
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from .issuer_models import (
    ActivationAnswer,
    Answer,
    Balance,
    BalanceAnswer,
    Enrollment,
    EnrollmentAnswer,
    ErrorAnswer,
    OtpResent,
    OtpResentAnswer,
    Payment,
    PaymentAnswer,
    PaymentListAnswer,
    Redemption,
    RedemptionAnswer,
    RedemptionDetailsAnswer,
    Refund,
    RefundAnswer,
    Reversal,
    ReversalAnswer,
    TokenAnswer,
    to_cents,
    whole_cents,
)

# The bank serves its whole partner API under one base path; every path below is relative to it.
API_BASE_PATH = "/gcb/api"
TOKEN_PATH = "/clientCredentials/oauth2/token/hk/gcb"
REWARDS_PATH = "/v1/apac/rewards"
PAYMENTS_PATH = "/gateway/v1/payments"
TOKEN_MARGIN_SECONDS = 60  # refetch a little before the bank's expiry, so a token never dies mid-call
CENT = Decimal("0.01")

log = logging.getLogger(__name__)
AnswerModel = TypeVar("AnswerModel", bound=Answer | TokenAnswer)


# --- Errors -------------------------------------------------------------------------------------


class IssuerError(Exception):
    """The bank refused a call; ``code`` is its stable error code."""

    def __init__(self, code: str, details: str = "", status: int = 0, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {details}" if details else code)
        self.code = code
        self.details = details
        self.status = status
        self.body = body or {}


class InvalidResponse(IssuerError):
    """The bank's answer breaks the contract (a required field missing or mistyped): nothing was stored."""


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


class OtpRequestLimitExceeded(IssuerError):
    """The bank sent too many codes for this card or mobile (or saw too many wrong ones) lately: wait."""


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
    "otpRequestLimitExceeded": OtpRequestLimitExceeded,
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
        return to_cents(whole_cents(amount))
    except ValueError as error:
        raise InvalidResponse("invalidResponse", f"Amount {amount!r} {error}") from None


# --- Reading answers ----------------------------------------------------------------------------


def decode_json(content: bytes) -> Any:
    """The body as JSON, numbers with a fraction as Decimal: money never passes through float."""
    return json.loads(content, parse_float=Decimal)


def parse_answer(model: type[AnswerModel], content: bytes, *, status: int = 200, money: bool = False) -> AnswerModel:
    """A success body read strictly with its model (an empty body reads as ``{}``).

    Raises InvalidResponse, or OutcomeUnknown for a call that changes money: the bank said yes, so the money may
    have moved, and only a look-up by reference can say what the shop should record.
    """
    error_class = OutcomeUnknown if money else InvalidResponse
    try:
        body = decode_json(content) if content else {}
    except ValueError:
        raise error_class("invalidResponse", "The bank's answer is not JSON.", status) from None
    if not isinstance(body, dict):
        raise error_class("invalidResponse", "The bank's answer is not a JSON object.", status)
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise error_class("invalidResponse", _field_problems(model, error), status, body) from None


def _field_problems(model: type[Answer | TokenAnswer], error: ValidationError) -> str:
    """Which fields were wrong and how, without echoing their values (an answer may hold a customer's data)."""
    problems = [
        ".".join(str(part) for part in problem["loc"]) + ": " + problem["msg"]
        for problem in error.errors(include_url=False, include_input=False)
    ]
    return f"{model.__name__} does not match the contract: " + "; ".join(problems)


def parse_error(status: int, content: bytes, *, reason: str = "", money: bool = False) -> IssuerError:
    """The named exception for an error answer; a body that is not the error model counts by its status alone."""
    answer: ErrorAnswer | None = None
    body: dict[str, Any] = {}
    try:
        decoded = decode_json(content) if content else None
        if isinstance(decoded, dict):
            body = decoded
            answer = ErrorAnswer.model_validate(decoded)
    except (ValueError, ValidationError):
        answer = None
    code = answer.code if answer else f"http{status}"
    details = (answer.details if answer else "") or reason
    if status >= 500 and money:
        # A 5xx from a money call may have come after the commit: look it up, never assume.
        return OutcomeUnknown(code, details, status, body)
    if status >= 500 and code not in ERRORS_BY_CODE:
        return IssuerUnavailable(code, details, status, body)
    if status == 404 and code not in ERRORS_BY_CODE:
        return NotFound(code, details, status, body)
    if status == 409 and code not in ERRORS_BY_CODE:
        return AlreadyProcessed(code, details, status, body)
    return ERRORS_BY_CODE.get(code, IssuerError)(code, details, status, body)


@dataclass
class _Token:
    value: str
    expires_at: float  # time.monotonic()


# --- The client ---------------------------------------------------------------------------------


@dataclass
class IssuerClient:
    """Summit Bank's partner API and card gateway, as the shop's partner client sees them.

    ``base_url`` is the bank's API base (e.g. ``http://127.0.0.1:8001/gcb/api``): the token, rewards and gateway
    paths are all relative to it.
    """

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
        answer = parse_answer(TokenAnswer, response.content, status=response.status_code)
        lifetime = max(answer.expires_in - TOKEN_MARGIN_SECONDS, answer.expires_in // 2)
        return _Token(answer.access_token, time.monotonic() + lifetime)

    # Partner API ------------------------------------------------------------------------------

    def enroll(self, last4: str, phone: str, customer_reference: str, language: str = "en") -> Enrollment:
        """Link the shopper's card; the bank texts an OTP (in ``language``: "en" or "zh-HK") unless it is ACTIVE."""
        answer, _ = self._call(
            "POST",
            f"{REWARDS_PATH}/linkage",
            EnrollmentAnswer,
            json={
                "lastFourDigitsCardNumber": last4,
                "citiCardHolderPhoneNumber": phone,
                "merchantCustomerReferenceId": customer_reference,
            },
            headers={"Accept-Language": language},
        )
        return answer.to_result()

    def resend_otp(self, reward_link_code: str, language: str = "en") -> OtpResent:
        """Ask the bank for a new OTP, its SMS in ``language`` (the old code stops working)."""
        answer, _ = self._call(
            "POST",
            f"{REWARDS_PATH}/{reward_link_code}/activations/otp",
            OtpResentAnswer,
            headers={"Accept-Language": language},
        )
        return answer.to_result()

    def verify_otp(self, reward_link_code: str, otp: str) -> str:
        """Activate the link with the OTP the shopper typed. Returns the link status (ACTIVE)."""
        answer, _ = self._call(
            "PUT",
            f"{REWARDS_PATH}/{reward_link_code}/activations",
            ActivationAnswer,
            json={"linkageConfirmationCode": otp},
        )
        return answer.link_status

    def balance(self, reward_link_code: str) -> Balance:
        """The live points balance and the programme's redemption rules."""
        answer, _ = self._call("GET", f"{REWARDS_PATH}/{reward_link_code}/pointBalance", BalanceAnswer)
        return answer.to_result()

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
        answer, response = self._call(
            "POST",
            f"{REWARDS_PATH}/{reward_link_code}/redemption",
            RedemptionAnswer,
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
        )
        return answer.to_result(reference, replayed=_replayed(response))

    def get_redemption(self, order_id: str) -> Redemption:
        """A redemption and its reversals, by the bank's order id."""
        answer, _ = self._call("GET", f"{REWARDS_PATH}/redemption/{order_id}", RedemptionDetailsAnswer)
        return answer.to_result()

    def find_redemption(self, reference: str) -> Redemption:
        """The redemption made with this transaction reference (raises NotFound if none)."""
        answer, _ = self._call(
            "GET",
            f"{REWARDS_PATH}/redemption",
            RedemptionDetailsAnswer,
            params={"transactionReferenceNumber": reference},
        )
        return answer.to_result()

    def reverse(self, order_id: str, reference: str, points: int) -> Reversal:
        """Give back some or all of a redemption's points; ``reference`` makes a retry safe."""
        answer, _ = self._call(
            "POST",
            f"{REWARDS_PATH}/redemption/reversals",
            ReversalAnswer,
            json={"orderId": order_id, "reversalReferenceNumber": reference, "pointsToReverse": points},
            money=True,
        )
        return answer.to_result(reference)

    def unlink(self, reward_link_code: str) -> None:
        """Remove the link (the shopper will verify again next time)."""
        self._call("DELETE", f"{REWARDS_PATH}/{reward_link_code}", None)

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
        """Charge a card. The card details go to the gateway only; nothing here keeps or logs them.

        ``pwp_flow`` "legacy" tells the bank this shop offers no points at checkout, so it texts the cardholder
        its own offer (``payWithPointsFlow``); the native default sends the request exactly as before.
        """
        body: dict[str, Any] = {
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
        }
        if pwp_flow != "native":
            body["payWithPointsFlow"] = pwp_flow
        answer, response = self._call(
            "POST",
            PAYMENTS_PATH,
            PaymentAnswer,
            json=body,
            headers={"Idempotency-Key": idempotency_key},
            money=True,
        )
        return answer.to_result(merchant_reference, replayed=_replayed(response))

    def get_payment(self, payment_id: str) -> Payment:
        """A payment by the gateway's id."""
        answer, _ = self._call("GET", f"{PAYMENTS_PATH}/{payment_id}", PaymentAnswer)
        return answer.to_result()

    def find_payments(self, merchant_reference: str) -> list[Payment]:
        """Every payment the gateway holds for this merchant reference (how a timed-out payment is resolved)."""
        answer, _ = self._call(
            "GET", PAYMENTS_PATH, PaymentListAnswer, params={"merchantReference": merchant_reference}
        )
        return [payment.to_result(merchant_reference) for payment in answer.payments]

    def refund(self, payment_id: str, amount_cents: int, idempotency_key: str) -> Refund:
        """Refund part or all of a captured payment."""
        answer, _ = self._call(
            "POST",
            f"{PAYMENTS_PATH}/{payment_id}/refunds",
            RefundAnswer,
            json={"amount": amount_cents},
            headers={"Idempotency-Key": idempotency_key},
            money=True,
        )
        return answer.to_result()

    # Transport --------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        model: type[AnswerModel] | None,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        money: bool = False,
    ) -> tuple[Any, requests.Response]:
        """Send one call with the partner headers and read the answer with ``model`` (None: no body expected).

        On a refused token fetch a new one and try once more: a 401 means the bank did nothing, so repeating
        even a money-changing call then is safe.
        """
        for attempt in (1, 2):
            response = self._send(method, path, json=json, params=params, headers=headers, money=money)
            if response.status_code >= 400:
                error = self._error(response, money=money)
                if response.status_code == 401 and attempt == 1 and error.code == "invalidToken":
                    self.invalidate_token()
                    continue
                raise error
            if model is None:
                return None, response
            return parse_answer(model, response.content, status=response.status_code, money=money), response
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

    @staticmethod
    def _error(response: requests.Response, *, money: bool) -> IssuerError:
        return parse_error(response.status_code, response.content, reason=response.reason or "", money=money)


def _never_sent(error: requests.RequestException) -> bool:
    """True when the connection was never made, so the bank cannot have seen the request."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(error, requests.exceptions.ConnectionError):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


def _replayed(response: requests.Response) -> bool:
    return response.headers.get("Idempotent-Replayed", "").lower() == "true"


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


def api_base_url(config: Mapping[str, Any]) -> str:
    """The one base URL of the bank's API: ``ISSUER_API_URL``, or ``ISSUER_URL`` + ``/gcb/api`` when unset."""
    return config.get("ISSUER_API_URL") or config["ISSUER_URL"].rstrip("/") + API_BASE_PATH


def issuer_session(use_environment: bool = False) -> requests.Session:
    """The app client's HTTP session: by default it ignores proxy and netrc settings of the environment.

    With ``trust_env`` on, requests reads the proxy variables, checks proxy bypass rules and looks for a
    ``~/.netrc`` file on every call (a tenth of the client's time per call); the bank's URL is configured, so
    SHOP_ISSUER_USE_ENVIRONMENT_PROXIES=true is only for a deployment that reaches the bank through a proxy.
    """
    session = requests.Session()
    session.trust_env = use_environment
    return session


def get_issuer_client() -> IssuerClient:
    """The app's issuer client, created on first use from config; tests install a fake in its place."""
    extensions = current_app.extensions
    client = extensions.get("issuer_client")
    if client is None:
        config = current_app.config
        client = IssuerClient(
            base_url=api_base_url(config),
            client_id=config["ISSUER_CLIENT_ID"],
            client_secret=config["ISSUER_CLIENT_SECRET"],
            timeout=config["ISSUER_TIMEOUT_SECONDS"],
            connect_timeout=config.get("ISSUER_CONNECT_TIMEOUT_SECONDS", 2),
            session=issuer_session(bool(config.get("ISSUER_USE_ENVIRONMENT_PROXIES", False))),
            before_request=no_transaction_open,
        )
        extensions["issuer_client"] = client
    return client
