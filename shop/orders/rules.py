"""What every order use case shares: the statuses, the base error, finding a shopper's order, the clock.

The use cases themselves live with their feature: placing an order (checkout/delivery.py), paying by card
(checkout/payment.py), applying points (checkout/points.py) and cancelling (orders/cancellation.py). Every
issuer call they make goes through orders/bank_call.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from ..extensions import db
from ..models import Order, OrderLine, Product

PAYABLE_STATUSES = ("PENDING_PAYMENT", "PAYMENT_DECLINED")
PAID_STATUSES = ("PAID", "POINTS_APPLIED")


class OrderError(Exception):
    """Base of the order rules' errors; the message is safe to show."""


class OrderNotFound(OrderError):
    """No such order for this shopper."""


def utcnow() -> datetime:
    """Now, in UTC without a zone (how the shop's DateTime columns hold it)."""
    return datetime.now(UTC).replace(tzinfo=None)


# Built once: building a select (and its cache key) on every request cost as much as running it.
_ORDER = sa.select(Order).where(Order.reference == sa.bindparam("reference"), Order.user_id == sa.bindparam("user_id"))
_ORDER_LOCKED = _ORDER.with_for_update()


def get_order(user_id: int, reference: str, lock: bool = False) -> Order:
    """The shopper's order by reference (another shopper's order is not found)."""
    order = db.session.scalar(_ORDER_LOCKED if lock else _ORDER, {"reference": reference, "user_id": user_id})
    if order is None:
        raise OrderNotFound(reference)
    return order


@dataclass(frozen=True, slots=True)
class SummaryLine:
    """One line of an order as the checkout's order summary shows it."""

    quantity: int
    product_name: str  # the name kept with the order
    name_zh: str | None  # the product's Chinese name today, if it has one
    unit_price_cents: int

    @property
    def line_total_cents(self) -> int:
        return self.unit_price_cents * self.quantity


_lines, _products = OrderLine.__table__, Product.__table__
_SUMMARY_LINES = (
    sa.select(_lines.c.quantity, _lines.c.product_name, _products.c.name_zh, _lines.c.unit_price_cents)
    .outerjoin(_products, _products.c.id == _lines.c.product_id)
    .where(_lines.c.order_id == sa.bindparam("order_id"))
    .order_by(_lines.c.id)
)


def summary_lines(order_id: int) -> list[SummaryLine]:
    """The order's lines for its summary, in one Core read (no ORM objects, no product loaded per line)."""
    return [SummaryLine(*row) for row in db.session.execute(_SUMMARY_LINES, {"order_id": order_id})]


def order_history(user_id: int) -> list[Order]:
    """The shopper's orders, newest first."""
    return list(db.session.scalars(sa.select(Order).where(Order.user_id == user_id).order_by(Order.id.desc())))


def is_cancellable(order: Order) -> bool:
    """Whether anything of the order can still be cancelled (it is not cancelled already)."""
    return order.status in PAID_STATUSES + PAYABLE_STATUSES
