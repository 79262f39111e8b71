"""Placing the order: the cart and the delivery details become a PENDING_PAYMENT order, stock reserved."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from ..database import commit_keeping_loaded_state
from ..extensions import db
from ..i18n import local_name
from ..models import Order, OrderLine, Product
from ..orders.rules import OrderError, utcnow


class EmptyCart(OrderError):
    """There is nothing to order."""


class OutOfStock(OrderError):
    """Some product does not have the quantity asked for."""

    def __init__(self, names: list[str]) -> None:
        super().__init__("Not enough stock for: " + ", ".join(names))
        self.names = names


class CartLineLike(Protocol):
    product: Product
    quantity: int


class CartLike(Protocol):
    lines: list[Any]
    subtotal_cents: int
    delivery_fee_cents: int
    total_cents: int


@dataclass(frozen=True)
class Delivery:
    name: str
    phone: str
    address: str
    district: str


def new_reference() -> str:
    """A fresh "HM-" + 6 digits reference not used by any order yet."""
    while True:
        reference = f"HM-{secrets.randbelow(900_000) + 100_000:06d}"
        if db.session.scalar(sa.select(Order.id).where(Order.reference == reference)) is None:
            return reference


def create_order(
    user_id: int, cart: CartLike, delivery: Delivery, currency_code: str = "HKD", pwp_flow: str = "native"
) -> Order:
    """Turn the cart into a PENDING_PAYMENT order: snapshot prices, reserve stock (all or nothing).

    ``pwp_flow`` is the Pay with Points flow the shopper sees for this order (checkout/flow.py), kept with it.
    """
    lines = [line for line in cart.lines if line.quantity > 0]
    if not lines:
        raise EmptyCart("Your cart is empty.")
    short: list[str] = []
    for line in lines:
        # Conditional decrement: the database refuses to go below zero, however many shoppers race.
        result = db.session.execute(
            sa.update(Product)
            .where(Product.id == line.product.id, Product.stock >= line.quantity)
            .values(stock=Product.stock - line.quantity)
        )
        if result.rowcount != 1:
            short.append(local_name(line.product))
    if short:
        db.session.rollback()
        raise OutOfStock(short)
    subtotal = sum(line.product.price_cents * line.quantity for line in lines)
    delivery_fee = cart.delivery_fee_cents
    order = Order(
        reference=new_reference(),
        user_id=user_id,
        status="PENDING_PAYMENT",
        currency_code=currency_code,
        subtotal_cents=subtotal,
        delivery_fee_cents=delivery_fee,
        total_cents=subtotal + delivery_fee,
        recipient_name=delivery.name,
        recipient_phone=delivery.phone,
        address_line=delivery.address,
        district=delivery.district,
        created_at=utcnow(),
        refunded_cents=0,
        points_used=0,
        statement_credit_cents=0,
        points_reversed=0,
        credit_reversed_cents=0,
        payment_attempts=0,
        refund_count=0,
        reversal_count=0,
        pwp_flow=pwp_flow,
    )
    order.lines = [
        OrderLine(
            product_id=line.product.id,
            product_name=line.product.name,
            unit_price_cents=line.product.price_cents,
            quantity=line.quantity,
            cancelled_quantity=0,
        )
        for line in lines
    ]
    db.session.add(order)
    commit_keeping_loaded_state()  # the view only needs the new order's reference for its redirect
    return order
