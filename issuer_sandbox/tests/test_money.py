"""Money helpers: cents inside, decimal strings on the wire, never float; rules never import the API for them."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from issuer_sandbox.money import InvalidAmount, amount_to_cents, cents_to_amount, parse_amount

PACKAGE = Path(__file__).resolve().parents[1]
RULES_MODULES = ("redemptions", "links", "otp", "payments", "tokens", "controls", "ledger", "statement", "money")


@pytest.mark.parametrize(("cents", "text"), [(52000, "520.00"), (5, "0.05"), (0, "0.00"), (-1250, "-12.50")])
def test_cents_become_the_wires_decimal_string(cents, text):
    assert cents_to_amount(cents) == text


@pytest.mark.parametrize(
    ("value", "cents"), [("520.00", 52000), ("520", 52000), (" 0.5 ", 50), (Decimal("10.10"), 1010), (7, 700)]
)
def test_amounts_parse_to_exact_cents(value, cents):
    assert amount_to_cents(parse_amount(value, "transactionAmount")) == cents


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (520.0, "decimal string"),
        (True, "decimal string"),
        ("5.555", "at most two decimals"),
        ("-1", "at most two decimals"),
        (Decimal("1.005"), "at most two decimals"),
        ("0", "must be positive"),
        (Decimal("100000000.01"), "too large"),
        (Decimal("Infinity"), "finite"),
    ],
)
def test_bad_amounts_are_a_400_invalid_request(value, message):
    with pytest.raises(InvalidAmount, match=message) as raised:
        parse_amount(value, "transactionAmount")
    assert (raised.value.status, raised.value.code) == (400, "invalidRequest")


@pytest.mark.parametrize("module", RULES_MODULES)
def test_no_rules_module_imports_from_the_api(module):
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name == "api" or name.startswith("api.")], module
