"""The issuer's data: cards, programmes, the points ledger, partner links and the sandbox's own records.

Money is integer cents, points are integers. Ledger rows are append-only (see ``ledger.py``).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db


class Programme(db.Model):
    """A points programme: what a point is worth and how points may be redeemed."""

    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)  # REWARDS, PREMIER
    name: Mapped[str] = mapped_column(sa.String(80))
    # Currency per point as a decimal string ("0.004"): never a float.
    conversion_rate: Mapped[str] = mapped_column(sa.String(16))
    currency_code: Mapped[str] = mapped_column(sa.String(3), default="HKD")
    point_increment: Mapped[int] = mapped_column(sa.Integer)
    minimum_points: Mapped[int] = mapped_column(sa.Integer)
    # The most points one redemption may use (HK$4,000 at the Rewards rate); caps maximumPointsToRedeem.
    maximum_points_per_redemption: Mapped[int] = mapped_column(
        sa.BigInteger, default=1_000_000, server_default=sa.text("1000000")
    )


class Cardholder(db.Model):
    __tablename__ = "cardholders"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    phone: Mapped[str] = mapped_column(sa.String(16), index=True)  # 8-digit HK mobile, digits only
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)

    cards: Mapped[list[Card]] = relationship(back_populates="cardholder", order_by="Card.id")


class Card(db.Model):
    """A card the bank issued. The sandbox is the bank, so it keeps the full test number."""

    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    cardholder_id: Mapped[int] = mapped_column(sa.ForeignKey("cardholders.id"))
    number: Mapped[str] = mapped_column(sa.String(19), unique=True)  # digits only
    last4: Mapped[str] = mapped_column(sa.String(4), index=True)
    brand: Mapped[str] = mapped_column(sa.String(20), default="VISA")
    kind: Mapped[str] = mapped_column(sa.String(10), default="credit")  # credit | debit
    programme_id: Mapped[int | None] = mapped_column(sa.ForeignKey("programmes.id"))
    status: Mapped[str] = mapped_column(sa.String(10), default="ACTIVE")  # ACTIVE | FROZEN
    credit_limit_cents: Mapped[int] = mapped_column(sa.BigInteger)
    # What the cardholder owes now: purchases minus refunds and statement credits.
    outstanding_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    sms_deliverable: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    behaviour: Mapped[str] = mapped_column(sa.String(120), default="")  # what testers use this card for
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)

    cardholder: Mapped[Cardholder] = relationship(back_populates="cards")
    programme: Mapped[Programme | None] = relationship()
    points_account: Mapped[LedgerAccount | None] = relationship(
        back_populates="card", uselist=False, foreign_keys="LedgerAccount.card_id"
    )

    @property
    def masked_number(self) -> str:
        return f"•••• •••• •••• {self.last4}"

    @property
    def credit_available_cents(self) -> int:
        return self.credit_limit_cents - self.outstanding_cents


class CardStatementLine(db.Model):
    """One line of the card's statement, as the cardholder will see it on their bill."""

    __tablename__ = "card_statement_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(sa.ForeignKey("cards.id"), index=True)
    # PURCHASE | REFUND | POINTS_CREDIT | POINTS_CREDIT_REVERSAL
    kind: Mapped[str] = mapped_column(sa.String(30))
    # Positive adds to what the cardholder owes; refunds and credits are negative.
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    currency_code: Mapped[str] = mapped_column(sa.String(3), default="HKD")
    description: Mapped[str] = mapped_column(sa.String(200))
    merchant_name: Mapped[str] = mapped_column(sa.String(80), default="")
    reference: Mapped[str] = mapped_column(sa.String(64), default="")
    transaction_date: Mapped[datetime] = mapped_column(sa.DateTime)
    posting_date: Mapped[date] = mapped_column(sa.Date)


# --- The points ledger: append-only, double entry -------------------------------------------


class LedgerAccount(db.Model):
    """A points account. Cardholder accounts hold points; system accounts are their counterparts.

    ``balance`` is a running total kept for speed; ``ledger-check`` proves it equals the sum of entries.
    """

    __tablename__ = "ledger_accounts"
    __table_args__ = (sa.CheckConstraint("kind <> 'CARDHOLDER' OR balance >= 0", name="cardholder_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(60), unique=True)
    # CARDHOLDER | ISSUANCE (points the programme has issued) | REDEMPTION (points turned into credit)
    kind: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(120))
    card_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cards.id"), unique=True)
    programme_id: Mapped[int | None] = mapped_column(sa.ForeignKey("programmes.id"))
    balance: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    card: Mapped[Card | None] = relationship(back_populates="points_account", foreign_keys=[card_id])


class LedgerTransaction(db.Model):
    """A balanced movement of points: its entries sum to zero."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # ISSUE | REDEEM | REVERSE | ADJUST
    kind: Mapped[str] = mapped_column(sa.String(20))
    description: Mapped[str] = mapped_column(sa.String(200))
    reference: Mapped[str] = mapped_column(sa.String(80), default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)

    entries: Mapped[list[LedgerEntry]] = relationship(back_populates="transaction", order_by="LedgerEntry.id")


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)  # signed points
    balance_after: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")
    account: Mapped[LedgerAccount] = relationship()


# --- Partners, tokens, links and OTPs ----------------------------------------------------------


class PartnerClient(db.Model):
    """A merchant allowed to call the partner API (OAuth2 client credentials)."""

    __tablename__ = "partner_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(255))
    merchant_name: Mapped[str] = mapped_column(sa.String(80))  # shown in SMS and statements
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)


class AccessToken(db.Model):
    """A bearer token stored as its SHA-256. No longer written: tokens are signed, not stored (tokens.py);
    the table stays for databases that hold rows, until a migration drops it."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    partner_client_id: Mapped[int] = mapped_column(sa.ForeignKey("partner_clients.id"), index=True)
    scope: Mapped[str] = mapped_column(sa.String(40), default="/api")
    issued_at: Mapped[datetime] = mapped_column(sa.DateTime)
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime)

    partner_client: Mapped[PartnerClient] = relationship()


class RewardLink(db.Model):
    """A merchant customer's link to a points card, activated by a one-time password."""

    __tablename__ = "reward_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)  # the opaque rewardLinkCode
    partner_client_id: Mapped[int] = mapped_column(sa.ForeignKey("partner_clients.id"), index=True)
    merchant_customer_reference: Mapped[str] = mapped_column(sa.String(64), index=True)
    card_id: Mapped[int] = mapped_column(sa.ForeignKey("cards.id"), index=True)
    # PENDING_ACTIVATION | ACTIVE | LOCKED | UNLINKED
    status: Mapped[str] = mapped_column(sa.String(20))
    otp_hash: Mapped[str | None] = mapped_column(sa.String(64))  # HMAC-SHA256 of the current OTP
    otp_expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    otp_sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    failed_attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    resends_used: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    activated_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    unlinked_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    # The cardholder's language (en | zh_Hant_HK), from the enrolment's Accept-Language: its resends follow it.
    language: Mapped[str] = mapped_column(sa.String(16), default="en", server_default="en")

    partner_client: Mapped[PartnerClient] = relationship()
    card: Mapped[Card] = relationship()


class SmsMessage(db.Model):
    """The SMS outbox: every message the bank 'sent'."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(16), index=True)
    body: Mapped[str] = mapped_column(sa.String(320))
    sent_at: Mapped[datetime] = mapped_column(sa.DateTime)
    reward_link_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reward_links.id"))


# --- Redemptions and reversals -----------------------------------------------------------------


class Redemption(db.Model):
    """Points turned into a statement credit against one card purchase."""

    __tablename__ = "redemptions"
    __table_args__ = (sa.UniqueConstraint("partner_client_id", "transaction_reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.String(40), unique=True)  # public id, e.g. RDM-...
    partner_client_id: Mapped[int] = mapped_column(sa.ForeignKey("partner_clients.id"))
    transaction_reference: Mapped[str] = mapped_column(sa.String(64))
    request_fingerprint: Mapped[str] = mapped_column(sa.String(64))  # SHA-256 of the canonical body
    reward_link_id: Mapped[int] = mapped_column(sa.ForeignKey("reward_links.id"), index=True)
    card_id: Mapped[int] = mapped_column(sa.ForeignKey("cards.id"), index=True)
    points: Mapped[int] = mapped_column(sa.BigInteger)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)  # the statement credit
    transaction_amount_cents: Mapped[int] = mapped_column(sa.BigInteger)  # the purchase it offsets
    currency_code: Mapped[str] = mapped_column(sa.String(3))
    description: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20))  # COMPLETED | PARTIALLY_REVERSED | REVERSED
    points_reversed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    credit_posting_date: Mapped[date] = mapped_column(sa.Date)
    response_body: Mapped[str] = mapped_column(sa.Text)  # the first response, replayed verbatim
    ledger_transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    # Which door the cardholder came through: PARTNER_API (at the merchant's checkout) or BANK_SITE (the bank's
    # own redemption site, after its SMS). A BANK_SITE redemption keeps the merchant's partner id and the
    # purchase's merchant reference, so one purchase is redeemed once across both doors (the unique key above).
    channel: Mapped[str] = mapped_column(sa.String(20), default="PARTNER_API", server_default="PARTNER_API")
    # The gateway payment a BANK_SITE redemption offsets (the partner API names it by reference only).
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"), index=True)

    reversals: Mapped[list[RedemptionReversal]] = relationship(
        back_populates="redemption", order_by="RedemptionReversal.id"
    )
    card: Mapped[Card] = relationship()
    reward_link: Mapped[RewardLink] = relationship()
    partner_client: Mapped[PartnerClient] = relationship()


class RedemptionReversal(db.Model):
    __tablename__ = "redemption_reversals"
    __table_args__ = (sa.UniqueConstraint("partner_client_id", "reversal_reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reversal_id: Mapped[str] = mapped_column(sa.String(40), unique=True)  # public id, e.g. RVS-...
    redemption_id: Mapped[int] = mapped_column(sa.ForeignKey("redemptions.id"), index=True)
    partner_client_id: Mapped[int] = mapped_column(sa.ForeignKey("partner_clients.id"))
    reversal_reference: Mapped[str] = mapped_column(sa.String(64))
    request_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    points: Mapped[int] = mapped_column(sa.BigInteger)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    response_body: Mapped[str] = mapped_column(sa.Text)
    ledger_transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)

    redemption: Mapped[Redemption] = relationship(back_populates="reversals")


# --- The card gateway --------------------------------------------------------------------------


class Payment(db.Model):
    """A card payment through the gateway. Never stores the CVC; the number only for Summit cards."""

    __tablename__ = "payments"
    __table_args__ = (sa.UniqueConstraint("partner_client_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[str] = mapped_column(sa.String(40), unique=True)  # public id, e.g. PAY-...
    partner_client_id: Mapped[int] = mapped_column(sa.ForeignKey("partner_clients.id"))
    idempotency_key: Mapped[str] = mapped_column(sa.String(80))
    request_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    merchant_reference: Mapped[str] = mapped_column(sa.String(64), index=True)
    card_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cards.id"), index=True)  # None: other bank
    last4: Mapped[str] = mapped_column(sa.String(4))
    brand: Mapped[str] = mapped_column(sa.String(20))
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    refunded_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency_code: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(20))  # CAPTURED | DECLINED | REFUNDED | PARTIALLY_REFUNDED
    decline_code: Mapped[str | None] = mapped_column(sa.String(40))
    response_body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    # The merchant's Pay with Points flow for this payment (payWithPointsFlow): "native" (points at its
    # checkout) or "legacy" (the bank texts the cardholder a link to its own redemption site).
    pwp_flow: Mapped[str] = mapped_column(sa.String(10), default="native", server_default="native")

    refunds: Mapped[list[Refund]] = relationship(back_populates="payment", order_by="Refund.id")
    card: Mapped[Card | None] = relationship()


class Refund(db.Model):
    __tablename__ = "refunds"
    __table_args__ = (sa.UniqueConstraint("payment_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[str] = mapped_column(sa.String(40), unique=True)  # public id, e.g. RFD-...
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(80))
    request_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(20))  # SUCCEEDED
    response_body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)

    payment: Mapped[Payment] = relationship(back_populates="refunds")


# --- Sandbox controls --------------------------------------------------------------------------


class SandboxSetting(db.Model):
    """Key/value settings of the sandbox, e.g. the clock offset in seconds."""

    __tablename__ = "sandbox_settings"

    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(200))


class RequestLogEntry(db.Model):
    """One partner API or gateway call, with bodies masked (no card numbers, no OTPs)."""

    __tablename__ = "request_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime, index=True)
    client_id: Mapped[str] = mapped_column(sa.String(64), default="")
    method: Mapped[str] = mapped_column(sa.String(8))
    path: Mapped[str] = mapped_column(sa.String(300), index=True)
    endpoint: Mapped[str] = mapped_column(sa.String(80), default="")
    status: Mapped[int] = mapped_column(sa.Integer, index=True)
    latency_ms: Mapped[int] = mapped_column(sa.Integer)
    request_uuid: Mapped[str] = mapped_column(sa.String(64), default="")
    idempotency_key: Mapped[str] = mapped_column(sa.String(80), default="")
    replayed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    fault: Mapped[str] = mapped_column(sa.String(80), default="")  # which injected fault applied, if any
    request_body: Mapped[str] = mapped_column(sa.Text, default="")
    response_body: Mapped[str] = mapped_column(sa.Text, default="")
    # False while a money call's row, written inside its money transaction, waits for its answer (status,
    # latency, response body) from the buffered log: still False later, the worker stopped before it logged it.
    answer_logged: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())


class FaultRule(db.Model):
    """An injected fault on one endpoint (by Flask endpoint name)."""

    __tablename__ = "fault_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(sa.String(80), index=True)
    latency_ms: Mapped[int] = mapped_column(sa.Integer, default=0)
    error_status: Mapped[int | None] = mapped_column(sa.Integer)
    error_code: Mapped[str | None] = mapped_column(sa.String(60))
    # How many more calls fail before the endpoint recovers; None fails until removed.
    remaining_failures: Mapped[int | None] = mapped_column(sa.Integer)
    drop_response_after_commit: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
