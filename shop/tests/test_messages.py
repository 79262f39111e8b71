"""The one table of shopper messages: every bank answer and every rule error has one; views use nothing else."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from shop import issuer_client, messages
from shop.accounts.rules import EmailTaken
from shop.cart.rules import CartError, NotEnoughStock
from shop.checkout.card_link import PointsError
from shop.checkout.offer import InvalidPoints
from shop.orders.bank_call import BankRefused
from shop.orders.cancellation import CancellationPending
from shop.orders.rules import OrderError

SHOP = Path(__file__).resolve().parents[1]


def client_error_classes() -> list[type[issuer_client.IssuerError]]:
    """Every exception class the issuer client defines (IssuerError and all its subclasses there)."""
    return [
        cls
        for _name, cls in inspect.getmembers(issuer_client, inspect.isclass)
        if issubclass(cls, issuer_client.IssuerError) and cls.__module__ == issuer_client.__name__
    ]


def subclasses(base: type) -> set[type]:
    found = set()
    for cls in base.__subclasses__():
        found |= {cls} | subclasses(cls)
    return found


def test_every_client_exception_class_has_its_own_row():
    classes = client_error_classes()
    assert len(classes) >= 15
    assert set(classes) == set(messages.BANK_MESSAGES)


@pytest.mark.parametrize("code", sorted(issuer_client.ERRORS_BY_CODE))
def test_every_code_the_bank_can_answer_reads_as_a_sentence(app, code):
    error_class = issuer_client.ERRORS_BY_CODE[code]
    with app.test_request_context():
        text = messages.shopper_message(BankRefused.from_issuer(error_class(code, "details")), "8741")
    assert text.endswith(".") and len(text) > 20
    assert "details" not in text  # the bank's own wording is for logs, not shoppers


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (issuer_client.InvalidOtp("invalidLinkageConfirmationCode", body={"attemptsRemaining": 3}), "3 attempts left"),
        (issuer_client.InvalidOtp("invalidLinkageConfirmationCode"), "Check the SMS"),
        (issuer_client.OtpLocked("maxAttemptsExceeded"), "Too many wrong codes"),
        (issuer_client.AccountNotFound("accountNotFound"), "points card ending 8741"),
        (issuer_client.RedemptionRejected("inSufficientPointBalance"), "(inSufficientPointBalance)"),
        (issuer_client.IssuerUnavailable("issuerUnavailable"), "Summit Bank is not responding"),
        (issuer_client.OutcomeUnknown("outcomeUnknown"), "Summit Bank is not responding"),
        (issuer_client.InvalidResponse("invalidResponse"), "could not complete that step (invalidResponse)"),
        (issuer_client.IssuerError("somethingNew"), "could not complete that step (somethingNew)"),
    ],
)
def test_a_bank_answer_is_shown_by_its_client_class(app, error, expected):
    with app.test_request_context():
        assert expected in messages.shopper_message(BankRefused.from_issuer(error), "8741")


def test_every_error_the_shops_rules_raise_has_its_own_row():
    """Order and points errors each have a row; the cart's errors carry their own (translated) text, one row."""
    raised = subclasses(OrderError) | subclasses(PointsError) | {InvalidPoints, EmailTaken, CartError}
    assert len(raised) >= 16
    assert raised - set(messages.SHOP_MESSAGES) == set()
    assert set(messages.SHOP_MESSAGES) <= raised


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (InvalidPoints("below_minimum", 1000, "x"), "Use at least 1,000 points."),
        (InvalidPoints("increment", 25, "x"), "Points are used in steps of 25."),
        (CancellationPending("x", "refund"), "You will not be refunded twice."),
        (CancellationPending("x", "payment"), "still confirming your payment"),
        (NotEnoughStock("Only 2 left.", 2), "Only 2 left."),
    ],
)
def test_a_rule_error_is_shown_from_the_table(app, error, expected):
    with app.test_request_context():
        assert expected in messages.shopper_message(error)


DECLINE_CODES = ["insufficientCredit", "cardFrozen", "expiredCard", "incorrectCvc", "invalidCardNumber"]  # DESIGN.md


@pytest.mark.parametrize("code", DECLINE_CODES)
def test_every_decline_code_of_the_gateway_has_its_reason(app, code):
    with app.test_request_context():
        text = messages.decline_message(code)
    assert code in messages.DECLINE_MESSAGES
    assert text.startswith("Your card was declined: ") and text != messages.decline_message("somethingElse")
    assert text.endswith("You have not been charged. Try another card.")


def test_an_error_class_nobody_listed_is_a_loud_failure(app):
    class Stray(Exception):
        pass

    with app.test_request_context(), pytest.raises(LookupError, match="Stray"):
        messages.shopper_message(Stray())


def test_no_view_module_imports_the_clients_exception_classes():
    allowed = {"get_issuer_client", "IssuerClient"}
    imported = {}
    for path in sorted(SHOP.glob("*/views.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("issuer_client"):
                imported[path.parent.name] = {alias.name for alias in node.names} - allowed
            if isinstance(node, ast.Import):
                assert not any(alias.name.endswith("issuer_client") for alias in node.names), path
    assert len(list(SHOP.glob("*/views.py"))) == 6
    assert {name: names for name, names in imported.items() if names} == {}
