"""The API's error ``details`` in the caller's language: one translatable sentence per stable code.

English callers keep the rule's own message (it names the field or the limit); a caller whose
``Accept-Language`` asks for Chinese gets this code's sentence from the catalogue. Codes, ``type`` and field
names never change with the language.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .. import i18n

DETAILS = {
    "accountNotFound": _l("No Summit Bank card matches these last four digits and this mobile number."),
    "alreadyUnlinked": _l("This reward link was already unlinked."),
    "belowMinimumPointsAllowed": _l("Fewer points than the programme's minimum for one redemption."),
    "belowMinimumTransactionAmount": _l("The purchase is too small to pay with points."),
    "cardNotFound": _l("No card ends in these four digits."),
    "exceedsMaximumAmountAllowed": _l("The points are worth more than the purchase they would offset."),
    "exceedsMaximumPointsAllowed": _l("More points than the programme allows in one redemption."),
    "exceedsRefundableAmount": _l("The refund is larger than what is left of the payment."),
    "exceedsReversiblePoints": _l("The reversal asks for more points than are left to reverse."),
    "faultNotFound": _l("No fault rule has this id."),
    "idempotencyKeyReused": _l("This Idempotency-Key was already used with a different request."),
    "inSufficientPointBalance": _l("The card does not hold that many points."),
    "inactiveRewardLinkCode": _l("This reward link is not active: verify its one-time password first."),
    "invalidClient": _l("Unknown client, wrong secret, or a client_id header that does not match the token."),
    "invalidControl": _l("The sandbox cannot do that; check the values and try again."),
    "invalidLinkageConfirmationCode": _l("The one-time password is incorrect."),
    "invalidPointsAndAmountCombination": _l("The points must be a multiple of the programme's increment."),
    "invalidRequest": _l("The request is invalid: a field, header or body is missing or malformed."),
    "invalidRewardLinkCode": _l("There is no reward link with this code."),
    "invalidSandboxKey": _l("The X-Sandbox-Key header is missing or wrong."),
    "invalidScope": _l("Only the scope /api can be requested."),
    "invalidToken": _l("The access token is missing, unknown or expired."),
    "linkAlreadyActive": _l("This reward link is already active."),
    "linkNotFound": _l("No reward link has this id."),
    "maxAttemptsExceeded": _l("Too many incorrect one-time passwords: the link is locked; enrol again."),
    "maxResendsExceeded": _l("No more one-time passwords can be sent for this link; enrol again."),
    "notEligibleToRedeem": _l("This card cannot redeem points: it is frozen or not in a points programme."),
    "otpDeliveryFailed": _l("The one-time password could not be sent to the card's registered mobile."),
    "otpExpired": _l("The one-time password has expired; request a new one."),
    "otpRequestLimitExceeded": _l("Too many one-time passwords were requested; try again later."),
    "otpResendTooSoon": _l("A new one-time password was sent moments ago; wait before asking again."),
    "paymentNotFound": _l("There is no such payment."),
    "paymentNotRefundable": _l("This payment was declined, so there is nothing to refund."),
    "redemptionNotFound": _l("There is no such redemption."),
    "reversalAlreadyProcessed": _l("This reversal reference was already used with a different request."),
    "tooManyFailedAuthentications": _l("Too many failed sign-ins from this address; try again later."),
    "transactionAlreadyRedeemed": _l("Points were already redeemed for this transaction."),
    "unsupportedGrantType": _l("Only the client_credentials grant is supported."),
    "notFound": _l("There is no such resource."),
    "methodNotAllowed": _l("That HTTP method is not allowed here."),
    "requestTooLarge": _l("The request body is too large."),
    "internalError": _l("The bank could not process this request; retry later."),
    "sandboxInjectedFault": _l("A sandbox fault rule answered this call."),
    "signInRequired": _l("Sign in to the console."),
}


def localized_details(code: str, details: str) -> str:
    """The details for this request's language: the rule's English text, or the code's translated sentence."""
    if i18n.current_locale() == i18n.ENGLISH or code not in DETAILS:
        return details
    return str(DETAILS[code])
