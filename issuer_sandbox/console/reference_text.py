"""Every sentence of the partner OpenAPI document, marked for the catalogue; the reference page shows them
translated (``reference.document_text``). A test fails when the document has a sentence that is not here."""

# ruff: noqa: E501 (each sentence stays whole, as its catalogue entry reads)
from flask_babel import lazy_gettext as _l

DOCUMENT_TEXTS = (
    _l("Summit Bank sandbox: Pay with Points partner API and card gateway"),
    _l("Other"),
    _l("5 wrong codes on this link, or 10 on this card's links within an hour: the link is locked; enrol again."),
    _l("A bearer token for every other call; it expires after `expires_in` seconds."),
    _l(
        "A fault rule set in the sandbox answered instead of the bank (the rule may choose another status and code); nothing was processed."
    ),
    _l("A field or the Idempotency-Key header is missing or malformed."),
    _l("A new OTP was sent."),
    _l("A partial reversal must be a multiple of the programme's increment (or all that is left)."),
    _l("A request id (UUID v4), echoed back in the response header `uuid`."),
    _l("A required header (uuid) or field is missing or malformed."),
    _l(
        "Amounts in integer cents. Declines: `invalidCardNumber` (Luhn, or a Summit number never issued), `expiredCard`, `incorrectCvc`, `cardFrozen`, `insufficientCredit`. Other banks' cards are approved and not points-eligible. Only the last four digits and brand are stored."
    ),
    _l("At most 3 resends per link."),
    _l("Authenticate with HTTP Basic `client_id:client_secret`; the form carries the grant type."),
    _l("Authentication"),
    _l("Card gateway"),
    _l("Charge a card (authorise and capture)"),
    _l("Enrol a card for Pay with Points (sends an OTP by SMS)"),
    _l("Enrolment"),
    _l("Fewer points than the programme's minimum."),
    _l("Find payments by merchant reference (how the shop learns the outcome after a timeout)"),
    _l("Get an access token (OAuth2 client credentials)"),
    _l("Idempotency-Key is unique per payment. A Summit card's statement gets a REFUND line."),
    _l(
        "Idempotent by `reversalReferenceNumber`; partial reversals until nothing is left. A partial reversal takes back exactly its share of the credit, so it must be a multiple of the programme's `redemptionPointIncrement` (else 422 `invalidPointsAndAmountCombination`); the last reversal may take whatever is left."
    ),
    _l("Look up a payment with its refunds"),
    _l("Look up a redemption by order id (with its reversals)"),
    _l("Look up a redemption by transactionReferenceNumber (how the shop learns the outcome after a timeout)"),
    _l("Makes a retry safe: the same key and body replay the first response."),
    _l("More points than allowed in one redemption."),
    _l("More points than are left to reverse."),
    _l("More than is left to refund (body adds remainingRefundableAmount)."),
    _l("No points card matches the last four digits and mobile number."),
    _l("No redemption with that reference for this client."),
    _l("No such payment for this client (another client's is not found)."),
    _l("No such redemption for this client."),
    _l("No such reward link for this client (another client's is not found)."),
    _l("Not enough points."),
    _l("Only grant_type=client_credentials is supported."),
    _l("Points"),
    _l("Points are not a multiple of the increment."),
    _l("Points redeemed (or the first response replayed, with Idempotent-Replayed: true)."),
    _l("Points reversed (or the first response replayed, with Idempotent-Replayed: true)."),
    _l("Redeem points as a statement credit against a card purchase"),
    _l("Refund part or all of a captured payment"),
    _l("Refunded (or the first response replayed, with Idempotent-Replayed: true)."),
    _l("Retrieve the rewards balance and redemption rules"),
    _l("Reverse part or all of a redemption (points back, statement credit reversed)"),
    _l("Send a new OTP (the previous one stops working)"),
    _l("The Idempotency-Key was used with another body."),
    _l("The OTP is older than 5 minutes; request a new one."),
    _l("The SMS could not be delivered; retry later."),
    _l("The bank could not process the request; retry later."),
    _l("The bearer token is missing, unknown or expired."),
    _l("The body is larger than the limit (64 KiB)."),
    _l("The body is not a form or grant_type is missing."),
    _l("The card is frozen or not in a points programme."),
    _l(
        "The cardholder's language: `zh-HK` (any `zh`) sends the OTP SMS in Traditional Chinese and remembers it for the link's resends (a resend without the header follows the link); anything else, or none, English. Every call's error `details` follow it too; codes and `type` never change."
    ),
    _l("The client_id header is missing or does not match the token."),
    _l("The link is active."),
    _l("The link is already active."),
    _l("The link is already active: no OTP is needed."),
    _l("The link is locked after too many wrong codes; enrol again."),
    _l("The link is not active (pending, locked or unlinked)."),
    _l("The link: PENDING_ACTIVATION with an OTP sent, or the customer's existing ACTIVE link (no OTP)."),
    _l("The live balance and what a point is worth."),
    _l("The only scope is /api."),
    _l("The opaque code returned by the enrol call."),
    _l(
        "The outcome: CAPTURED, or DECLINED with a declineCode (a decline is not an error). A repeated Idempotency-Key with the same body returns the first response with Idempotent-Replayed: true."
    ),
    _l(
        "The partner API keeps the paths and field names of the public Citi Pay with Points API (Hong Kong, v1 APAC rewards); reversals, status look-ups, OTP resend and the card gateway are this sandbox's own. As at the real issuer, every call sits under one base path, `/gcb/api`: the token call, `/gcb/api/v1/apac/rewards/...` and `/gcb/api/gateway/v1/...`; the unprefixed `/v1/...` and `/gateway/...` paths are aliases of the same operations. Every error is JSON `{type, code, details}`, `type` as in the real issuer's tables: `invalid` when the request breaks the specification (400, 405, 413, 415), `error` when a business rule or state refused it (401, 403, 404, 409, 422, 423), `fatal` to retry later (429, 5xx). The token call's errors also carry OAuth 2.0's `error` and `error_description`. Any path may answer `notFound` (404) or `methodNotAllowed` (405, see `components.responses`); any call may meet a sandbox fault rule (`sandboxInjectedFault`, 503 unless the rule says otherwise). A partner call needs the `client_id` header: servers and proxies that drop header names with underscores (Flask's development server, gunicorn without `--header-map dangerous`, nginx by default) lose it. Partner API amounts are decimal strings; card gateway amounts are integer cents."
    ),
    _l("The partner's client id; must match the token."),
    _l("The payment now."),
    _l("The payment was declined."),
    _l("The payments with that reference, oldest first."),
    _l("The points are worth more than transactionAmount."),
    _l("The redemption now."),
    _l("The reversalReferenceNumber was used with another body."),
    _l("The transactionReferenceNumber was used with another body."),
    _l(
        "Too many OTP SMS to this card or mobile, or wrong codes for this card, in the last hour (any merchant, any link): wait Retry-After seconds (body adds retryAfterSeconds)."
    ),
    _l("Too many wrong credentials from this address: wait Retry-After seconds (successful calls are never counted)."),
    _l("Unknown client_id or wrong client_secret (HTTP Basic)."),
    _l("Unlink the card (the code is unknown afterwards)"),
    _l("Unlinked."),
    _l("Verify the OTP and activate the link"),
    _l("Wait 30 seconds between resends (body adds retryAfterSeconds)."),
    _l("Wrong code (body adds attemptsRemaining)."),
    _l(
        "`transactionReferenceNumber` is the idempotency key per client: the same reference with the same body returns the first response again and debits nothing more; with another body it is 409. `redeemedAmount = pointsToRedeem × programConversionRate`, exact to the cent."
    ),
    _l("transactionAmount is under HK$10."),
)
