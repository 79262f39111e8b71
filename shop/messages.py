"""One table: each error the shop's rules raise, and each answer the bank can give, to what the shopper reads.

Views flash ``shopper_message(error)`` and never look at the issuer client's exception classes: the rules
raise the shop's own errors, and a bank answer they cannot settle arrives as ``BankRefused``, which keeps the
client's exception class so its message is looked up here (tests check every class and code has one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from . import issuer_client as bank
from .accounts.rules import EmailTaken
from .cart.rules import CartError
from .checkout.card_link import NoActiveLink, PointsNotOffered
from .checkout.delivery import EmptyCart, OutOfStock
from .checkout.offer import InvalidPoints
from .checkout.payment import NotPayable, PaymentDeclined, PaymentFailed, PaymentOutcomeUnknown, PaymentUnavailable
from .checkout.points import PointsOutcomeUnknown
from .orders.bank_call import BankRefused
from .orders.cancellation import CancellationPending, CancelNotAllowed
from .orders.rules import OrderNotFound

Message = Callable[[Any, str], str]  # (error, the card's last four digits) -> text


def _bank() -> str:
    return current_app.config["BANK_NAME"]


def unavailable_message() -> str:
    """The bank is away: the card payment stands, points can wait."""
    return _(
        "%(bank)s is not responding right now. Your card payment is complete; you can continue without points.",
        bank=_bank(),
    )


def _wrong_code(error: BankRefused, _last4: str) -> str:
    if error.attempts_remaining is None:
        return _("That code is not right. Check the SMS and try again.")
    return _("That code is not right. %(num)d attempts left.", num=error.attempts_remaining)


def _step_failed(error: BankRefused, _last4: str) -> str:
    return _(
        "%(bank)s could not complete that step (%(code)s). Your card payment stands.", bank=_bank(), code=error.code
    )


# Every exception class of the issuer client; a bank answer is shown by the most specific class it has.
BANK_MESSAGES: dict[type[bank.IssuerError], Message] = {
    bank.IssuerError: _step_failed,
    bank.IssuerUnavailable: lambda _error, _last4: unavailable_message(),
    bank.OutcomeUnknown: lambda _error, _last4: unavailable_message(),
    # An answer the shop could not read: nothing was stored; the step names the code for support.
    bank.InvalidResponse: _step_failed,
    bank.InvalidToken: _step_failed,
    bank.AccountNotFound: lambda _error, last4: _(
        "%(bank)s could not find a points card ending %(last4)s registered to that mobile number.",
        bank=_bank(),
        last4=last4,
    ),
    bank.NotEligibleToRedeem: lambda _error, _last4: _(
        "This card cannot use points right now. Your card payment is complete."
    ),
    bank.OtpDeliveryFailed: lambda _error, _last4: _(
        "%(bank)s could not send an SMS to that number. Check the number, or skip points for now.", bank=_bank()
    ),
    bank.OtpResendTooSoon: lambda _error, _last4: _("Please wait a few seconds before asking for another code."),
    bank.MaxResendsExceeded: lambda _error, _last4: _(
        "No more codes can be sent for this attempt. Send a new code to start again."
    ),
    bank.OtpRequestLimitExceeded: lambda _error, _last4: _(
        "For your security %(bank)s will not send more codes for this card right now. Try again later, or skip "
        "points: your card payment is complete.",
        bank=_bank(),
    ),
    bank.InvalidOtp: _wrong_code,
    bank.OtpExpired: lambda _error, _last4: _("That code has expired. Press “Resend code” for a new one."),
    bank.OtpLocked: lambda _error, _last4: _(
        "Too many wrong codes: this code is locked. Send a new code to try again."
    ),
    bank.InvalidRewardLink: lambda _error, _last4: _("Your card link has expired; verify your card again."),
    bank.RedemptionRejected: lambda error, _last4: _(
        "%(bank)s could not redeem those points (%(code)s). Choose again or skip.", bank=_bank(), code=error.code
    ),
    bank.AlreadyProcessed: _step_failed,
    bank.NotFound: _step_failed,
}

DECLINE_MESSAGES: dict[str, Callable[[], str]] = {
    "insufficientCredit": lambda: _("Your card was declined: there is not enough credit available."),
    "cardFrozen": lambda: _("Your card was declined: the card is frozen. Contact your bank."),
    "expiredCard": lambda: _("Your card was declined: the card has expired."),
    "incorrectCvc": lambda: _("Your card was declined: the CVC is incorrect."),
    "invalidCardNumber": lambda: _("Your card was declined: the card number is not valid."),
}


def decline_message(code: str) -> str:
    """Why the card was declined (by the gateway's decline code), and that nothing was charged."""
    reason = DECLINE_MESSAGES.get(code, lambda: _("Your card was declined."))()
    return reason + " " + _("You have not been charged. Try another card.")


def _points_message(error: InvalidPoints, _last4: str) -> str:
    limit = f"{error.limit:,}"
    if error.reason == "below_minimum":
        return _("Use at least %(points)s points.", points=limit)
    if error.reason == "above_maximum":
        return _("You can use at most %(points)s points on this order.", points=limit)
    if error.reason == "increment":
        return _("Points are used in steps of %(points)s.", points=limit)
    return _("This order cannot use points.")


def _pending_message(error: CancellationPending, _last4: str) -> str:
    if error.stage == "payment":
        return _("We are still confirming your payment with the bank; please try cancelling again in a moment.")
    if error.stage == "redemption":
        return _("We are still confirming your points with the bank; please try cancelling again in a moment.")
    if error.stage == "refund":
        return _("We could not confirm the refund yet; please try again in a moment. You will not be refunded twice.")
    return _("Your refund is done; the points are on their way back and will show here shortly.")


# Every error class the shop's rules raise (a subclass not listed uses its nearest listed base).
SHOP_MESSAGES: dict[type[Exception], Message] = {
    CartError: lambda error, _last4: str(error),  # the cart rules' messages are already translated
    EmailTaken: lambda _error, _last4: _("An account with this email already exists. Sign in instead."),
    EmptyCart: lambda _error, _last4: _("Your cart is empty."),
    OutOfStock: lambda error, _last4: _(
        "Sorry, there is not enough stock for: %(names)s.", names=", ".join(error.names)
    ),
    OrderNotFound: lambda _error, _last4: _("We could not find that order."),
    NotPayable: lambda _error, _last4: _("This order is already paid or closed."),
    PaymentDeclined: lambda error, _last4: decline_message(error.code),
    PaymentUnavailable: lambda _error, _last4: _(
        "The card payment service is not available right now. You have not been charged."
    ),
    PaymentOutcomeUnknown: lambda _error, _last4: _(
        "We could not confirm your payment yet. Please try again in a moment: you will not be charged twice."
    ),
    PaymentFailed: lambda _error, _last4: _("The card could not be charged. Check the details or try another card."),
    PointsNotOffered: lambda _error, _last4: _("Points cannot be used on this order."),
    NoActiveLink: lambda _error, _last4: _("Verify your card to use points."),
    InvalidPoints: _points_message,
    PointsOutcomeUnknown: lambda _error, _last4: _(
        "We could not confirm your points with %(bank)s yet. Your card payment is complete; "
        "check this order again shortly: points are never taken twice.",
        bank=_bank(),
    ),
    CancelNotAllowed: lambda _error, _last4: _("This order cannot be cancelled that way."),
    CancellationPending: _pending_message,
}


def shopper_message(error: Exception, card_last4: str = "") -> str:
    """What the shopper reads for ``error``: the entry of its most specific listed class."""
    table: dict[type, Message] = BANK_MESSAGES if isinstance(error, BankRefused) else SHOP_MESSAGES
    cls = error.error_class if isinstance(error, BankRefused) else type(error)
    for base in cls.__mro__:
        if base in table:
            return table[base](error, card_last4)
    raise LookupError(f"No shopper message for {cls.__name__}")  # a new error class needs a row above
