"""The seed state and the ledger's core invariants."""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from issuer_sandbox import clock, ledger
from issuer_sandbox.database import core_connection
from issuer_sandbox.extensions import db
from issuer_sandbox.models import Card, LedgerEntry
from issuer_sandbox.seed import seed_database


def card_ending(last4: str) -> Card:
    return db.session.scalar(sa.select(Card).where(Card.last4 == last4))


def test_seed_gives_the_happy_card_its_documented_points(app):
    with app.app_context():
        assert ledger.balance_of(card_ending("8741")) == 120_000
        assert ledger.balance_of(card_ending("1190")) == 2_000_000
        assert ledger.balance_of(card_ending("4300")) == 0


def test_seeding_twice_creates_nothing_more(app):
    with app.app_context():
        entries_before = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
        assert seed_database() is False
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == entries_before


def test_a_debit_larger_than_the_balance_is_refused_and_writes_nothing(app):
    with app.app_context():
        card = card_ending("0102")
        with pytest.raises(ledger.InsufficientPoints, match="does not hold 801 points"):
            ledger.redeem_points(card, 801, "too much", clock.now(), reference="T-1")
        db.session.commit()
        assert ledger.balance_of(card) == 800
        assert ledger.check_ledger() == []


def test_redeem_and_reverse_keep_every_balance_equal_to_its_entries(app):
    with app.app_context():
        card = card_ending("8741")
        ledger.redeem_points(card, 50_000, "redeem", clock.now(), reference="T-2")
        ledger.reverse_points(card, 20_000, "reverse", clock.now(), reference="T-2-R1")
        db.session.commit()
        assert ledger.balance_of(card) == 90_000
        assert ledger.check_ledger() == []
        totals = ledger.totals()
        assert (totals.redeemed, totals.reversed) == (50_000, 20_000)


def _legs(debit, credit) -> list[ledger.AccountMovement]:
    """A debit of the card ending 8741 and a credit of its programme's issuance account."""
    card = card_ending("8741")
    issuance = ledger.system_account(ledger.ISSUANCE, card.programme)
    account = ledger.cardholder_account(card)
    return [
        ledger.AccountMovement(account.id, account.code, debit, guarded=True),
        ledger.AccountMovement(issuance.id, issuance.code, credit, guarded=False),
    ]


@pytest.mark.parametrize("amount", [True, 1.0, Decimal("1")])
def test_move_points_refuses_points_that_are_not_plain_whole_numbers(app, amount):
    with app.app_context():
        with pytest.raises(ledger.UnbalancedTransaction, match="whole numbers"):
            ledger.move_points("ADJUST", "odd", _legs(-1, amount), clock.now())
        with pytest.raises(ledger.UnbalancedTransaction, match="do not sum to zero"):
            ledger.move_points("ADJUST", "odd", _legs(-1, 2), clock.now(), reference="T-3")
        db.session.rollback()
        assert ledger.balance_of(card_ending("8741")) == 120_000


def test_move_points_on_the_callers_connection_debits_first_and_reports_each_balance(app):
    with app.app_context():
        legs = _legs(-20_000, 20_000)
        posted = ledger.move_points("ADJUST", "on a connection", legs[::-1], clock.now(), connection=core_connection())
        db.session.commit()
        entries = db.session.scalars(
            sa.select(LedgerEntry).where(LedgerEntry.transaction_id == posted.id).order_by(LedgerEntry.id)
        ).all()
        assert [(entry.account_id, entry.amount) for entry in entries] == [(m.account_id, m.amount) for m in legs]
        assert posted.balances[legs[0].account_id] == 100_000 == ledger.balance_of(card_ending("8741"))
        assert ledger.check_ledger() == []


def test_ledger_entries_cannot_be_rewritten(app):
    with app.app_context():
        entry = db.session.scalar(sa.select(LedgerEntry).limit(1))
        entry.amount = 1
        with pytest.raises(ledger.LedgerError, match="append-only"):
            db.session.flush()
        db.session.rollback()


def test_ledger_check_reports_a_tampered_running_balance(app, runner):
    with app.app_context():
        account = ledger.cardholder_account(card_ending("8741"))
        db.session.execute(
            sa.text("UPDATE ledger_accounts SET balance = balance + 5 WHERE id = :id"), {"id": account.id}
        )
        db.session.commit()
    result = runner.invoke(args=["ledger-check"])
    assert result.exit_code == 1
    assert "cardholder:" in result.output
