"""The checkout's SQL per request: each step reads what it shows once, and a POST ends with its own commit.

Every statement is CPU in a shop worker (SQLAlchemy's part of a checkout request is the largest), and on
SQLite every write transaction queues for the one write lock; these counts are what 20 concurrent checkouts
cost per step. A regression that adds a lazy load to a page, or reloads the order after the last commit,
fails here.
"""

from __future__ import annotations

import pytest

from .support import statements_during


def sql_of(app, call) -> list[str]:
    """The statements ``call`` ran, each on one line."""
    return [" ".join(statement.split()) for statement in statements_during(app, call)]


@pytest.fixture
def steps(app, client, checkout, fake_issuer):
    """Run one request and return (response, its statements)."""

    def run(method: str, path: str, data: dict | None = None):
        answers = []
        statements = sql_of(app, lambda: answers.append(client.open(path, method=method, data=data)))
        return answers[0], statements

    return run


def last_transaction_writes(statements: list[str]) -> bool:
    """Whether the request's last transaction wrote: else it only reloaded what the use case had just
    committed, and on SQLite took the write lock again for that."""
    last = max(i for i, statement in enumerate(statements) if statement.startswith("BEGIN"))
    return any(statement.startswith(("INSERT", "UPDATE", "DELETE")) for statement in statements[last:])


def renders_without_the_write_lock(statements: list[str]) -> bool:
    """Whether the page's last transaction (its render's reads) began without SQLite's write lock."""
    return [statement for statement in statements if statement.startswith("BEGIN")][-1] == "BEGIN"


@pytest.mark.sqlite_only(reason="counts SQLite's BEGIN statements (PostgreSQL sends no BEGIN statement)")
def test_each_checkout_step_runs_at_most_its_statements(app, checkout, fake_issuer, steps):
    checkout.add_to_cart()
    delivery = {"name": "Chan Tai Man", "phone": "91234567", "address": "1 Harbour Road", "district": "Wan Chai"}
    placed, statements = steps("POST", "/checkout", delivery)
    assert "/payment" in placed.headers["Location"]
    assert last_transaction_writes(statements)  # no reload of the new order for its reference
    assert len(statements) <= 8, statements
    reference = placed.headers["Location"].split("/")[2]

    page, statements = steps("GET", f"/checkout/{reference}/payment")
    assert page.status_code == 200
    assert not [s for s in statements if "FROM products" in s]  # an English page shows the kept line names
    assert len(statements) <= 5, statements

    card = {"card_number": checkout.HAPPY_CARD, "expiry": "12/30", "cvc": "123", "holder_name": "CHAN TAI MAN"}
    paid, statements = steps("POST", f"/checkout/{reference}/payment", card)
    assert paid.headers["Location"].endswith("/points")
    assert last_transaction_writes(statements)
    assert len(statements) <= 10, statements

    enrol, statements = steps("GET", f"/checkout/{reference}/points")
    assert b"confirm your mobile number" in enrol.data
    assert any(s.startswith("INSERT INTO pwp_events") for s in statements)  # offer_shown, committed before render
    assert renders_without_the_write_lock(statements)
    assert len([s for s in statements if "FROM card_links" in s]) == 1
    assert len(statements) <= 13, statements

    sent, statements = steps("POST", f"/checkout/{reference}/points/send-code", {"phone": "91234567"})
    assert sent.headers["Location"].endswith("/points")
    assert not [s for s in statements if "FROM users" in s and "password_hash" in s]  # no shopper load
    assert last_transaction_writes(statements)
    assert len(statements) <= 11, statements

    otp_page, statements = steps("GET", f"/checkout/{reference}/points")
    assert b"one-time password" in otp_page.data
    assert renders_without_the_write_lock(statements)
    assert len([s for s in statements if "FROM card_links" in s]) == 1
    assert len(statements) <= 9, statements

    verified, statements = steps(
        "POST", f"/checkout/{reference}/points/verify", {"otp": fake_issuer.last_otp("91234567")}
    )
    assert verified.headers["Location"].endswith("/points")
    assert len(statements) <= 11, statements

    offer, statements = steps("GET", f"/checkout/{reference}/points")
    assert b'data-testid="points-balance"' in offer.data
    assert renders_without_the_write_lock(statements)
    assert len([s for s in statements if "FROM card_links" in s]) == 1  # the step, the page and the offer share it
    assert len(statements) <= 12, statements

    redeemed, statements = steps(
        "POST", f"/checkout/{reference}/points/redeem", {"points": 1000, "submit": "Use points"}
    )
    assert redeemed.headers["Location"].endswith(f"/orders/{reference}")
    assert last_transaction_writes(statements)
    assert len(statements) <= 15, statements

    detail, statements = steps("GET", f"/orders/{reference}")
    assert b"1,000 points used" in detail.data
    assert not [s for s in statements if "FROM products" in s]
    assert len(statements) <= 7, statements


def test_a_chinese_page_still_names_the_order_lines_in_chinese(app, client, checkout):
    from shop.extensions import db
    from shop.models import Product

    product_id = checkout.product()
    with app.app_context():
        db.session.get(Product, product_id).name_zh = "測試產品"
        db.session.commit()
    reference = checkout.start_order(product_id)
    client.set_cookie("lang", "zh_Hant_HK")
    page = client.get(f"/checkout/{reference}/payment").get_data(as_text=True)
    assert "1 × 測試產品" in page
    client.set_cookie("lang", "en")
    assert "1 × Test T-CHECKOUT" in client.get(f"/checkout/{reference}/payment").get_data(as_text=True)


def test_the_progress_steps_are_kept_per_step_and_language(app, client, checkout):
    import re

    def steps_of(path: str) -> list[str]:
        page = client.get(path).get_data(as_text=True)
        steps = page[page.index('<ol class="checkout-steps"') : page.index("</ol>", page.index("checkout-steps"))]
        return re.findall(r'class="checkout-steps__step( checkout-steps__step--\w+)?"[^>]*>([^<]+)<', steps)

    checkout.add_to_cart()
    for _ in range(2):  # the second round is served from the kept fragments
        assert steps_of("/checkout") == [
            (" checkout-steps__step--current", "Delivery"),
            ("", "Payment"),
            ("", "Pay with Points"),
            ("", "Confirmation"),
        ]
    reference = checkout.start_order()
    for language, names in [("en", ("Delivery", "Payment")), ("zh_Hant_HK", ("送貨", "付款"))] * 2:
        client.set_cookie("lang", language)
        assert steps_of(f"/checkout/{reference}/payment")[:2] == [
            (" checkout-steps__step--done", names[0]),
            (" checkout-steps__step--current", names[1]),
        ]
