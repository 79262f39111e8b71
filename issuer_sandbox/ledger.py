"""The points ledger: append-only, double entry, never negative.

Every movement is one ``LedgerTransaction`` whose entries sum to zero. Entries are never updated or
deleted (an ORM guard refuses it); a correction is a new transaction. A cardholder account's running
``balance`` is changed only by a single conditional UPDATE inside the caller's database transaction,
so two concurrent debits cannot both pass a balance check made in Python.

Sign convention: a cardholder account holds points (positive). The programme's ISSUANCE account is its
counterpart when points are issued or adjusted (it goes negative as points are issued); the REDEMPTION
account collects points turned into statement credit, and gives them back on a reversal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .database import Prebuilt, core_connection
from .extensions import db
from .models import Card, LedgerAccount, LedgerEntry, LedgerTransaction, Programme

CARDHOLDER = "CARDHOLDER"
ISSUANCE = "ISSUANCE"
REDEMPTION = "REDEMPTION"


class LedgerError(Exception):
    """Base of the ledger's named failures."""


class InsufficientPoints(LedgerError):
    """The debit would take a cardholder account below zero."""

    def __init__(self, account_code: str, requested: int) -> None:
        super().__init__(f"Account {account_code} does not hold {requested} points.")
        self.requested = requested


class UnbalancedTransaction(LedgerError):
    """The entries of a transaction do not sum to zero."""


@dataclass(frozen=True)
class Movement:
    """One leg of a transaction: ``amount`` points into (positive) or out of (negative) an account."""

    account: LedgerAccount
    amount: int


# --- Accounts -----------------------------------------------------------------------------------


def cardholder_account(card: Card) -> LedgerAccount:
    """The card's points account, opened on first use."""
    account = db.session.scalar(sa.select(LedgerAccount).where(LedgerAccount.card_id == card.id))
    if account is None:
        account = LedgerAccount(
            code=f"cardholder:{card.id}",
            kind=CARDHOLDER,
            name=f"{card.cardholder.name} card ending {card.last4}",
            card_id=card.id,
            programme_id=card.programme_id,
            balance=0,
        )
        db.session.add(account)
        db.session.flush()
    return account


def system_account_prefix(kind: str) -> str:
    """What a programme's system account code starts with; the programme's code follows ("redemption:REWARDS")."""
    return f"{kind.lower()}:"


def system_account(kind: str, programme: Programme) -> LedgerAccount:
    """The programme's ISSUANCE or REDEMPTION account, opened on first use."""
    if kind not in (ISSUANCE, REDEMPTION):
        raise ValueError(f"Unknown system account kind {kind!r}.")
    code = system_account_prefix(kind) + programme.code
    account = db.session.scalar(sa.select(LedgerAccount).where(LedgerAccount.code == code))
    if account is None:
        label = "points issued" if kind == ISSUANCE else "points redeemed for statement credit"
        try:
            with db.session.begin_nested():
                account = LedgerAccount(
                    code=code, kind=kind, name=f"{programme.name}: {label}", programme_id=programme.id, balance=0
                )
                db.session.add(account)
                db.session.flush()
        except IntegrityError:
            # Two first redemptions of a programme raced to open it (PostgreSQL): use the winner's.
            account = db.session.scalar(sa.select(LedgerAccount).where(LedgerAccount.code == code))
            if account is None:
                raise
    return account


# --- Posting ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountMovement:
    """One leg by account id: ``guarded`` legs (cardholder debits) may not take the balance below zero."""

    account_id: int
    account_code: str
    amount: int
    guarded: bool


@dataclass(frozen=True)
class PostedTransaction:
    id: int
    balances: dict[int, int]  # account id -> its balance after this transaction


_accounts = LedgerAccount.__table__
_transactions = LedgerTransaction.__table__
_entries = LedgerEntry.__table__

# Built once: on the hot path, building and cache-keying a statement costs more than SQLite running it.
_MOVE = (
    sa.update(_accounts)
    .where(_accounts.c.id == sa.bindparam("account_id"))
    .values(balance=_accounts.c.balance + sa.bindparam("amount"))
    .returning(_accounts.c.balance)
)
_GUARDED_MOVE = _MOVE.where(_accounts.c.balance + sa.bindparam("amount") >= 0)
_INSERT_TRANSACTION = sa.insert(_transactions).returning(_transactions.c.id)
_INSERT_ENTRIES = sa.insert(_entries)
# The same, run by the shortest path the dialect allows (database.Prebuilt).
_MOVE_FAST = Prebuilt(_MOVE)
_GUARDED_MOVE_FAST = Prebuilt(_GUARDED_MOVE)
_INSERT_TRANSACTION_FAST = Prebuilt(_INSERT_TRANSACTION, ("kind", "description", "reference", "created_at"))
_INSERT_ENTRIES_FAST = Prebuilt(
    _INSERT_ENTRIES, ("transaction_id", "account_id", "amount", "balance_after", "created_at")
)


def post_transaction(
    kind: str, description: str, movements: list[Movement], now: datetime, reference: str = ""
) -> LedgerTransaction:
    """Post one balanced transaction of loaded accounts. Raises InsufficientPoints, leaving nothing written by it."""
    posted = move_points(
        kind,
        description,
        [
            AccountMovement(m.account.id, m.account.code, m.amount, m.account.kind == CARDHOLDER and m.amount < 0)
            for m in movements
        ],
        now,
        reference,
    )
    for movement in movements:  # keep the loaded accounts in step without another round trip
        set_committed_value(movement.account, "balance", posted.balances[movement.account.id])
    return db.session.get(LedgerTransaction, posted.id)


def move_points(
    kind: str,
    description: str,
    movements: list[AccountMovement],
    now: datetime,
    reference: str = "",
    connection: sa.Connection | None = None,
) -> PostedTransaction:
    """Post one balanced transaction by account ids, in 2 + legs statements. Raises InsufficientPoints.

    Each account's running balance moves by a single ``UPDATE ... SET balance = balance + :n`` that, for a
    guarded leg, only matches while the result stays at or above zero: the database, not Python, decides
    whether the points are there. Debits go first, so a refused debit leaves nothing of this transaction
    written (a savepoint guards the rare transaction with more than one guarded leg). ``connection``: the
    session's connection (``core_connection``) if the caller holds it already.
    """
    if not movements:
        raise UnbalancedTransaction("A transaction needs at least one movement.")
    total = guarded = 0
    for m in movements:
        if type(m.amount) is not int:  # not a bool, a float or a Decimal
            raise UnbalancedTransaction("Points are whole numbers.")
        total += m.amount
        guarded += m.guarded
    if total != 0:
        raise UnbalancedTransaction(f"Entries of {kind} {reference!r} do not sum to zero.")
    if guarded > 1:
        with db.session.begin_nested():
            return _move_points(kind, description, movements, now, reference, core_connection())
    return _move_points(kind, description, movements, now, reference, connection or core_connection())


def _move_points(
    kind: str,
    description: str,
    movements: list[AccountMovement],
    now: datetime,
    reference: str,
    connection: sa.Connection,
) -> PostedTransaction:
    ordered = sorted(movements, key=_debits_first)
    balances: dict[int, int] = {}
    for movement in ordered:
        new_balance = (
            (_GUARDED_MOVE_FAST if movement.guarded else _MOVE_FAST)
            .execute(connection, {"account_id": movement.account_id, "amount": movement.amount})
            .scalar_one_or_none()
        )
        if new_balance is None:
            raise InsufficientPoints(movement.account_code, -movement.amount)
        balances[movement.account_id] = new_balance
    transaction_id = _INSERT_TRANSACTION_FAST.execute(
        connection, {"kind": kind, "description": description, "reference": reference, "created_at": now}
    ).scalar_one()
    _INSERT_ENTRIES_FAST.execute(
        connection,
        [
            {
                "transaction_id": transaction_id,
                "account_id": m.account_id,
                "amount": m.amount,
                "balance_after": balances[m.account_id],
                "created_at": now,
            }
            for m in ordered
        ],
    )
    return PostedTransaction(transaction_id, balances)


def _debits_first(movement: AccountMovement) -> int:
    return movement.amount


def issue_points(card: Card, points: int, description: str, now: datetime, reference: str = "") -> LedgerTransaction:
    """Credit a cardholder with points from the programme (seed, earn, or a positive adjustment)."""
    if points <= 0:
        raise ValueError("Issue a positive number of points.")
    programme = _programme_of(card)
    return post_transaction(
        "ISSUE",
        description,
        [Movement(cardholder_account(card), points), Movement(system_account(ISSUANCE, programme), -points)],
        now,
        reference,
    )


def adjust_points(card: Card, delta: int, reason: str, now: datetime) -> LedgerTransaction:
    """A tester's adjustment, positive or negative, against the programme's issuance account."""
    if delta == 0:
        raise ValueError("An adjustment must change the balance.")
    programme = _programme_of(card)
    return post_transaction(
        "ADJUST",
        f"Adjustment: {reason}",
        [Movement(cardholder_account(card), delta), Movement(system_account(ISSUANCE, programme), -delta)],
        now,
    )


def redeem_points(card: Card, points: int, description: str, now: datetime, reference: str) -> LedgerTransaction:
    """Move points from the cardholder to the programme's redemption account."""
    if points <= 0:
        raise ValueError("Redeem a positive number of points.")
    programme = _programme_of(card)
    return post_transaction(
        "REDEEM",
        description,
        [Movement(cardholder_account(card), -points), Movement(system_account(REDEMPTION, programme), points)],
        now,
        reference,
    )


def reverse_points(card: Card, points: int, description: str, now: datetime, reference: str) -> LedgerTransaction:
    """Give redeemed points back to the cardholder."""
    if points <= 0:
        raise ValueError("Reverse a positive number of points.")
    programme = _programme_of(card)
    return post_transaction(
        "REVERSE",
        description,
        [Movement(cardholder_account(card), points), Movement(system_account(REDEMPTION, programme), -points)],
        now,
        reference,
    )


def _programme_of(card: Card) -> Programme:
    if card.programme is None:
        raise LedgerError(f"Card ending {card.last4} is not in a points programme.")
    return card.programme


def balance_of(card: Card) -> int:
    """The card's available points (0 for a card that never had an account)."""
    account = db.session.scalar(sa.select(LedgerAccount).where(LedgerAccount.card_id == card.id))
    return account.balance if account else 0


# --- Checking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerTotals:
    issued: int
    redeemed: int
    reversed: int
    liability: int


def check_ledger() -> list[str]:
    """Recompute every balance from its entries; return one line per problem (empty: all is well)."""
    problems: list[str] = []
    sums = dict(
        db.session.execute(
            sa.select(LedgerEntry.account_id, sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0)).group_by(
                LedgerEntry.account_id
            )
        ).all()
    )
    for account in db.session.scalars(sa.select(LedgerAccount).order_by(LedgerAccount.id)):
        computed = int(sums.get(account.id, 0))
        if computed != account.balance:
            problems.append(f"{account.code}: stored balance {account.balance} but entries sum to {computed}")
        if account.kind == CARDHOLDER and computed < 0:
            problems.append(f"{account.code}: negative balance {computed}")
        last_entry = db.session.scalar(
            sa.select(LedgerEntry).where(LedgerEntry.account_id == account.id).order_by(LedgerEntry.id.desc())
        )
        if last_entry is not None and last_entry.balance_after != account.balance:
            problems.append(
                f"{account.code}: last entry says balance {last_entry.balance_after}, account says {account.balance}"
            )
    unbalanced = db.session.execute(
        sa.select(LedgerEntry.transaction_id, sa.func.sum(LedgerEntry.amount))
        .group_by(LedgerEntry.transaction_id)
        .having(sa.func.sum(LedgerEntry.amount) != 0)
    ).all()
    for transaction_id, total in unbalanced:
        problems.append(f"transaction {transaction_id}: entries sum to {total}, not 0")
    grand_total = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0)))
    if grand_total != 0:
        problems.append(f"all entries sum to {grand_total}, not 0")
    return problems


def totals() -> LedgerTotals:
    """Programme-wide totals for the console's health panel."""

    def sum_of(kind: str, sign: int) -> int:
        amount = sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0)
        query = (
            sa.select(amount)
            .join(LedgerTransaction, LedgerEntry.transaction_id == LedgerTransaction.id)
            .join(LedgerAccount, LedgerEntry.account_id == LedgerAccount.id)
            .where(LedgerTransaction.kind == kind, LedgerAccount.kind == CARDHOLDER)
        )
        return sign * int(db.session.scalar(query))

    liability = int(
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(LedgerAccount.balance), 0)).where(LedgerAccount.kind == CARDHOLDER)
        )
    )
    issued = sum_of("ISSUE", 1) + sum_of("ADJUST", 1)
    return LedgerTotals(
        issued=issued, redeemed=sum_of("REDEEM", -1), reversed=sum_of("REVERSE", 1), liability=liability
    )


# --- Append-only guard --------------------------------------------------------------------------


@event.listens_for(Session, "before_flush")
def _refuse_ledger_rewrites(session: Session, _context, _instances) -> None:
    """Entries and transactions are written once; corrections are new transactions."""
    for instance in list(session.dirty) + list(session.deleted):
        if isinstance(instance, LedgerEntry | LedgerTransaction) and (
            instance in session.deleted or session.is_modified(instance, include_collections=False)
        ):
            raise LedgerError("Ledger entries and transactions are append-only.")
