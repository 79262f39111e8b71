"""Summit Bank's own redemption site (the old flow): public pages where a cardholder signs in with the card's
last four digits, mobile and an OTP, picks a recent purchase and turns points into a statement credit on it.

One rules module, two doors: sign-in reuses the link and OTP rules of the partner API (``links``, ``otp``) and
redemption reuses ``redemptions`` and the ledger; only the door (and the redemption's channel) differs.
"""
