"""The shopper's cart, kept in the signed session as {product_id: quantity}.

The rules (what may be added, stock limits) are plain functions over that mapping that raise named
exceptions; `current_cart()` prices the mapping against today's catalogue and reports stock problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app, g, session
from flask_babel import gettext as _

from ..extensions import db
from ..i18n import local_name
from ..models import Product
from . import pricing

SESSION_KEY = "cart"
MAX_QUANTITY_PER_LINE = 20  # a household's worth; stops a typo of 1000 from reaching checkout


class CartError(Exception):
    """A cart change that cannot be made; the message is safe to show to the shopper."""


class ProductUnavailable(CartError):
    """The product does not exist (any more)."""


class InvalidQuantity(CartError):
    """A quantity that is not a whole number between 1 and the per-line limit."""


class NotEnoughStock(CartError):
    """More than the shop has in stock."""

    def __init__(self, message: str, available: int) -> None:
        super().__init__(message)
        self.available = available


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int

    @property
    def line_total_cents(self) -> int:
        return pricing.line_total_cents(self.product.price_cents, self.quantity)

    @property
    def in_stock(self) -> bool:
        return self.quantity <= self.product.stock


@dataclass(frozen=True)
class CartProblem:
    """A stock issue that blocks checkout until the shopper fixes it."""

    kind: str  # gone | sold_out | above_stock
    message: str
    product_id: int
    available: int = 0


@dataclass
class Cart:
    lines: list[CartLine] = field(default_factory=list)
    problems: list[CartProblem] = field(default_factory=list)
    delivery_fee: int = pricing.DEFAULT_DELIVERY_FEE_CENTS
    free_delivery_threshold: int = pricing.DEFAULT_FREE_DELIVERY_THRESHOLD_CENTS

    @property
    def subtotal_cents(self) -> int:
        return pricing.subtotal_cents((line.product.price_cents, line.quantity) for line in self.lines)

    @property
    def delivery_fee_cents(self) -> int:
        return pricing.delivery_fee_cents(
            self.subtotal_cents, fee_cents=self.delivery_fee, free_threshold_cents=self.free_delivery_threshold
        )

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents + self.delivery_fee_cents

    @property
    def amount_to_free_delivery_cents(self) -> int:
        if self.is_empty:
            return 0
        return pricing.amount_to_free_delivery_cents(
            self.subtotal_cents, free_threshold_cents=self.free_delivery_threshold
        )

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def can_check_out(self) -> bool:
        return bool(self.lines) and not self.problems

    def problem_for(self, product_id: int) -> CartProblem | None:
        return next((problem for problem in self.problems if problem.product_id == product_id), None)


# --- rules over the {product_id: quantity} mapping (no Flask) ---------------------------------------------


def parse_quantity(value: object) -> int:
    """A quantity typed by the shopper: a whole number from 1 to the per-line limit."""
    try:
        quantity = int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidQuantity(_("Enter a whole number of items.")) from None
    if quantity < 1:
        raise InvalidQuantity(_("Enter a quantity of at least 1."))
    if quantity > MAX_QUANTITY_PER_LINE:
        raise InvalidQuantity(_("You can buy at most %(max)d of one item.", max=MAX_QUANTITY_PER_LINE))
    return quantity


def _check_stock(product: Product, quantity: int, already: int = 0) -> None:
    if product.stock <= 0:
        raise NotEnoughStock(_("Sorry, %(name)s is sold out.", name=local_name(product)), 0)
    if quantity > product.stock:
        message = _("Only %(count)d of %(name)s left in stock.", count=product.stock, name=local_name(product))
        if already:
            message += " " + _("You already have %(count)d in your cart.", count=already)
        raise NotEnoughStock(message, product.stock)
    if quantity > MAX_QUANTITY_PER_LINE:
        raise InvalidQuantity(_("You can buy at most %(max)d of one item.", max=MAX_QUANTITY_PER_LINE))


def add_item(contents: Mapping[int, int], product: Product | None, quantity: int) -> dict[int, int]:
    """Contents with `quantity` more of `product`, or a CartError."""
    if product is None:
        raise ProductUnavailable(_("That product is no longer available."))
    if quantity < 1:
        raise InvalidQuantity(_("Enter a quantity of at least 1."))
    already = contents.get(product.id, 0)
    _check_stock(product, already + quantity, already)
    updated = dict(contents)
    updated[product.id] = already + quantity
    return updated


def set_item_quantity(contents: Mapping[int, int], product: Product | None, quantity: int) -> dict[int, int]:
    """Contents with the line set to `quantity` (0 removes it), or a CartError."""
    updated = dict(contents)
    if quantity == 0:
        updated.pop(product.id if product else -1, None)
        return updated
    if product is None:
        raise ProductUnavailable(_("That product is no longer available."))
    if quantity < 0:
        raise InvalidQuantity(_("Enter a quantity of at least 1."))
    _check_stock(product, quantity)
    updated[product.id] = quantity
    return updated


def remove_item(contents: Mapping[int, int], product_id: int) -> dict[int, int]:
    """Contents without the product (no error if it was not there)."""
    return {pid: qty for pid, qty in contents.items() if pid != product_id}


def price_contents(
    contents: Mapping[int, int],
    products: Mapping[int, Product],
    *,
    delivery_fee: int = pricing.DEFAULT_DELIVERY_FEE_CENTS,
    free_delivery_threshold: int = pricing.DEFAULT_FREE_DELIVERY_THRESHOLD_CENTS,
) -> Cart:
    """Turn the mapping into a priced Cart with a problem for every line the shop cannot fill."""
    cart = Cart(delivery_fee=delivery_fee, free_delivery_threshold=free_delivery_threshold)
    for product_id, quantity in contents.items():
        product = products.get(product_id)
        if product is None:
            cart.problems.append(
                CartProblem("gone", _("An item in your cart is no longer sold and was removed."), product_id)
            )
            continue
        cart.lines.append(CartLine(product, quantity))
        if product.stock <= 0:
            cart.problems.append(
                CartProblem(
                    "sold_out",
                    _("%(name)s has sold out. Remove it to check out.", name=local_name(product)),
                    product_id,
                )
            )
        elif quantity > product.stock:
            cart.problems.append(
                CartProblem(
                    "above_stock",
                    _(
                        "Only %(count)d of %(name)s left: lower the quantity to check out.",
                        count=product.stock,
                        name=local_name(product),
                    ),
                    product_id,
                    product.stock,
                )
            )
    return cart


# --- the session-backed cart --------------------------------------------------------------------------------


def load_contents() -> dict[int, int]:
    """The cart mapping from the session, ignoring anything malformed."""
    raw = session.get(SESSION_KEY) or {}
    contents: dict[int, int] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            try:
                product_id, quantity = int(key), int(value)
            except (TypeError, ValueError):
                continue
            if quantity > 0:
                contents[product_id] = quantity
    return contents


def save_contents(contents: Mapping[int, int]) -> None:
    """Store the mapping (JSON keys are strings in the session cookie)."""
    session[SESSION_KEY] = {str(pid): qty for pid, qty in contents.items() if qty > 0}
    g.pop("_cart", None)


def get_product(product_id: int) -> Product | None:
    return db.session.get(Product, product_id)


_products = Product.__table__
_PRODUCTS_STILL_SOLD = sa.select(_products.c.id).where(_products.c.id.in_(sa.bindparam("ids", expanding=True)))


def item_count() -> int:
    """The header's count: ``current_cart().item_count`` without loading and pricing the products.

    Most pages do not show the cart, and pricing it for one number cost a fifth of their time. The count is the
    same: every line of a product still sold, sold out or not; a product no longer sold drops out of the session.
    """
    cached = g.get("_cart")
    if cached is not None:
        return cached.item_count
    contents = load_contents()
    if not contents:
        return 0
    sold = set(db.session.scalars(_PRODUCTS_STILL_SOLD, {"ids": list(contents)}))
    if len(sold) < len(contents):
        save_contents({pid: qty for pid, qty in contents.items() if pid in sold})
    return sum(qty for pid, qty in contents.items() if pid in sold)


def current_cart() -> Cart:
    """The shopper's cart priced against the catalogue; products no longer sold drop out of the session."""
    cached = g.get("_cart")
    if cached is not None:
        return cached
    contents = load_contents()
    products: dict[int, Product] = {}
    if contents:
        rows = db.session.scalars(sa.select(Product).where(Product.id.in_(list(contents)))).all()
        products = {product.id: product for product in rows}
    cart = price_contents(
        contents,
        products,
        delivery_fee=current_app.config["DELIVERY_FEE_CENTS"],
        free_delivery_threshold=current_app.config["FREE_DELIVERY_THRESHOLD_CENTS"],
    )
    if any(problem.kind == "gone" for problem in cart.problems):
        save_contents({pid: qty for pid, qty in contents.items() if pid in products})
    g._cart = cart
    return cart


def add_to_cart(product_id: int, quantity: int) -> CartLine:
    """Add to the session cart; raises CartError."""
    product = get_product(product_id)
    contents = add_item(load_contents(), product, quantity)  # raises ProductUnavailable when product is None
    save_contents(contents)
    assert product is not None
    return CartLine(product, contents[product_id])


def update_quantity(product_id: int, quantity: int) -> None:
    """Set a line's quantity (0 removes it); raises CartError."""
    save_contents(set_item_quantity(load_contents(), get_product(product_id), quantity))


def remove_from_cart(product_id: int) -> None:
    save_contents(remove_item(load_contents(), product_id))


def clear_cart() -> None:
    """Empty the cart (after an order is placed)."""
    session.pop(SESSION_KEY, None)
    g.pop("_cart", None)
