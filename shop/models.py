"""Harbour Mall's data: shoppers, the catalogue, orders and the Pay with Points record.

Money is integer HK cents. The shop never stores a card number or CVC: only last four, brand and the
gateway's payment id.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .passwords import SCRYPT_METHOD, hash_password, password_matches


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)  # stored lower-case
    name: Mapped[str] = mapped_column(sa.String(80))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    phone: Mapped[str] = mapped_column(sa.String(16), default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    # Shop staff may open /insights; shoppers may not.
    is_staff: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())

    @staticmethod
    def password_hash_method() -> str:
        """The method new hashes are made with: tests choose a cheap one through config; the default is scrypt
        at 8 MiB (passwords.py)."""
        return current_app.config.get("PASSWORD_HASH_METHOD", SCRYPT_METHOD)

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password, method=self.password_hash_method())

    def check_password(self, password: str) -> bool:
        return password_matches(self.password_hash, password)

    @property
    def greeting_name(self) -> str:
        """The name the header greets with: a shopper's first name; a staff account's mailbox ("ops" -> "Ops").

        Staff logins are role accounts named after the shop ("Harbour Mall Ops"), whose first word would greet
        every member of staff as "Harbour"; the mailbox names the role. Falls back to the mailbox when no name.
        """
        first_name = self.name.split()[0] if self.name and self.name.split() else ""
        if first_name and not self.is_staff:
            return first_name
        mailbox = self.email.split("@", 1)[0]
        return " ".join(part.capitalize() for part in mailbox.replace("_", ".").replace("-", ".").split(".") if part)

    @property
    def customer_reference(self) -> str:
        """The merchantCustomerReferenceId the issuer knows this shopper by."""
        return customer_reference(self.id)


def customer_reference(user_id: int) -> str:
    """The merchantCustomerReferenceId of the shopper with this id (no need to load the shopper)."""
    return f"C-{1000 + user_id}"


class Category(db.Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    name_zh: Mapped[str] = mapped_column(sa.String(80), default="", server_default="")  # Traditional Chinese
    position: Mapped[int] = mapped_column(sa.Integer, default=0)

    products: Mapped[list[Product]] = relationship(back_populates="category")


class Product(db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(sa.String(20), unique=True)
    slug: Mapped[str] = mapped_column(sa.String(120), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text)
    # Traditional Chinese (Hong Kong); empty until seed fills it in, and then the English is shown.
    name_zh: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    description_zh: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("categories.id"), index=True)
    price_cents: Mapped[int] = mapped_column(sa.BigInteger)
    stock: Mapped[int] = mapped_column(sa.Integer)
    image: Mapped[str] = mapped_column(sa.String(200))  # path under static/, e.g. shop/products/rice.svg
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)

    category: Mapped[Category] = relationship(back_populates="products")


class Order(db.Model):
    """An order and its tenders: the card charge, the points used and the statement credit they earned.

    Status: PENDING_PAYMENT -> PAID (card captured) -> optional POINTS_APPLIED -> CANCELLED;
    PAYMENT_DECLINED when the card was declined.
    """

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(20), unique=True)  # HM-000123
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    currency_code: Mapped[str] = mapped_column(sa.String(3), default="HKD")
    subtotal_cents: Mapped[int] = mapped_column(sa.BigInteger)
    delivery_fee_cents: Mapped[int] = mapped_column(sa.BigInteger)
    total_cents: Mapped[int] = mapped_column(sa.BigInteger)  # what the card is charged
    # Delivery details
    recipient_name: Mapped[str] = mapped_column(sa.String(80))
    recipient_phone: Mapped[str] = mapped_column(sa.String(16))
    address_line: Mapped[str] = mapped_column(sa.String(200))
    district: Mapped[str] = mapped_column(sa.String(60))
    # Card tender (never the number or CVC)
    card_last4: Mapped[str | None] = mapped_column(sa.String(4))
    card_brand: Mapped[str | None] = mapped_column(sa.String(20))
    payment_id: Mapped[str | None] = mapped_column(sa.String(40))
    card_issued_by_summit: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    card_points_eligible: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    decline_code: Mapped[str | None] = mapped_column(sa.String(40))
    refunded_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Points tender
    redemption_order_id: Mapped[str | None] = mapped_column(sa.String(40))
    points_used: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    statement_credit_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    points_reversed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    credit_reversed_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    paid_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    # Checkout bookkeeping (checkout/payment, checkout/points, orders/cancellation): attempt counters give
    # each issuer call its reference ("<ref>-P<n>", "<ref>-F<n>", "<ref>-R<n>"); the flags mark an outcome
    # still to be looked up.
    payment_attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    payment_check_needed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    points_check_needed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    refund_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    reversal_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    # JSON {line id: quantity}: Text, because an order may have any number of lines.
    pending_cancellation: Mapped[str] = mapped_column(sa.Text, default="")
    points_increment: Mapped[int] = mapped_column(sa.Integer, default=0)  # the programme's, at redemption
    points_skipped: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # When the latest call that moves money (payment, redemption, refund, reversal) was committed as intent:
    # `flask --app shop reconcile` leaves a fresher one to the worker that may still be waiting on the bank.
    bank_intent_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    # Which Pay with Points flow the shopper saw: "native" (points at checkout) or "legacy" (the bank's SMS link
    # and its own redemption site); `simulated` marks journeys driven by `flask --app shop simulate`.
    pwp_flow: Mapped[str] = mapped_column(sa.String(10), default="native", server_default="native")
    simulated: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())

    user: Mapped[User] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(back_populates="order", order_by="OrderLine.id")
    events: Mapped[list[PwpEvent]] = relationship(back_populates="order", order_by="PwpEvent.id")
    adjustments: Mapped[list[OrderAdjustment]] = relationship(back_populates="order", order_by="OrderAdjustment.id")

    @property
    def offers_points_at_checkout(self) -> bool:
        """The native flow offers Pay with Points in the shop; in the legacy flow the shop offers nothing."""
        return self.pwp_flow != "legacy"

    @property
    def net_cost_cents(self) -> int:
        """What the order costs the shopper after refunds and (unreversed) statement credit."""
        credit = self.statement_credit_cents - self.credit_reversed_cents
        return self.total_cents - self.refunded_cents - credit


class OrderLine(db.Model):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"))
    product_name: Mapped[str] = mapped_column(sa.String(120))
    unit_price_cents: Mapped[int] = mapped_column(sa.BigInteger)
    quantity: Mapped[int] = mapped_column(sa.Integer)
    cancelled_quantity: Mapped[int] = mapped_column(sa.Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    @property
    def line_total_cents(self) -> int:
        return self.unit_price_cents * self.quantity


class CardLink(db.Model):
    """A shopper's Pay with Points link to one of their Summit cards (the issuer's rewardLinkCode)."""

    __tablename__ = "card_links"
    __table_args__ = (sa.UniqueConstraint("user_id", "card_last4"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    card_last4: Mapped[str] = mapped_column(sa.String(4))
    reward_link_code: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(20))  # PENDING_ACTIVATION | ACTIVE
    masked_phone: Mapped[str] = mapped_column(sa.String(16), default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    activated_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    otp_sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime)  # for the resend countdown


class PwpEvent(db.Model):
    """One step of Pay with Points in a checkout, so uptake and drop-off can be reported.

    kind: card_paid_eligible | offer_shown | code_sent | verified | points_redeemed | skipped | failed
    """

    __tablename__ = "pwp_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(30), index=True)
    code: Mapped[str] = mapped_column(sa.String(60), default="")  # the issuer's error code on failure
    detail: Mapped[str] = mapped_column(sa.String(200), default="")
    at: Mapped[datetime] = mapped_column(sa.DateTime, index=True)

    order: Mapped[Order | None] = relationship(back_populates="events")


class PwpJourney(db.Model):
    """One checkout's Pay with Points events folded into one row, kept up to date by ``record_event``.

    The insights page reads these rows (one per journey) instead of grouping every event per request. Each
    ``*_at`` is the first time the journey reached that step; ``last_kind``/``last_code`` are those of its latest
    event (a journey "ended by a failure" when that was a failure). The order's own figures stay on the order.
    """

    __tablename__ = "pwp_journeys"

    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), primary_key=True)
    paid_event_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    offer_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    code_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    codes_sent: Mapped[int] = mapped_column(sa.Integer, default=0)
    verified_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    skipped_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    last_kind: Mapped[str] = mapped_column(sa.String(30))
    last_code: Mapped[str] = mapped_column(sa.String(60), default="")
    events: Mapped[int] = mapped_column(sa.Integer, default=0)


class OrderAdjustment(db.Model):
    """A refund to the card or a reversal of points after a (partial) cancellation, as the issuer confirmed it.

    kind: refund | points_reversal
    """

    __tablename__ = "order_adjustments"
    # One row per issuer reference: a refund or reversal recorded twice (two tabs racing) is refused here.
    __table_args__ = (sa.UniqueConstraint("order_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    reference: Mapped[str] = mapped_column(sa.String(40))  # HM-000123-F1 / HM-000123-R1
    external_id: Mapped[str] = mapped_column(sa.String(40), default="")  # refundId / reversalId
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    points: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)

    order: Mapped[Order] = relationship(back_populates="adjustments")
