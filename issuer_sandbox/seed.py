"""The sandbox's seed state: programmes, the test cards of DESIGN.md, their points and the demo partner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from . import clock, ledger, rate_limits, request_log
from .extensions import db
from .models import Card, Cardholder, PartnerClient, Programme
from .tokens import client_secret_matches, hash_client_secret


@dataclass(frozen=True)
class SeedCard:
    number: str
    holder: str
    phone: str
    points: int | None
    programme: str | None  # REWARDS | PREMIER | None (no points)
    behaviour: str
    kind: str = "credit"
    status: str = "ACTIVE"
    credit_limit_cents: int = 5_000_000  # HK$50,000
    sms_deliverable: bool = True


PROGRAMMES = (
    # code, name, currency per point, increment, minimum
    ("REWARDS", "Summit Rewards", "0.004", 25, 1000),
    ("PREMIER", "Summit Premier Miles", "0.005", 20, 1000),
)

TEST_CARDS = (
    SeedCard(
        "4966010000008741", "CHAN TAI MAN", "91234567", 120_000, "REWARDS", "Happy path (Rewards, 250 pts = HK$1)"
    ),
    SeedCard("4966010000000102", "WONG SIU MING", "92345678", 800, "REWARDS", "Below the 1,000-point minimum"),
    SeedCard(
        "4966020000001190",
        "LEE KA YAN",
        "93456789",
        2_000_000,
        "PREMIER",
        "Premier programme: 200 pts = HK$1 (rate 0.005, increment 20)",
    ),
    SeedCard(
        "4966030000004300",
        "CHEUNG WING",
        "94567890",
        None,
        None,
        "Summit debit card: pays, no points offer",
        kind="debit",
    ),
    SeedCard(
        "4966010000007404",
        "HO MEI LING",
        "95678901",
        50_000,
        "REWARDS",
        "Frozen: payment declined cardFrozen, enrol notEligibleToRedeem",
        status="FROZEN",
    ),
    SeedCard(
        "4966010000005051",
        "LAU CHI KEUNG",
        "96789012",
        60_000,
        "REWARDS",
        "Credit limit HK$100: larger payments declined insufficientCredit",
        credit_limit_cents=10_000,
    ),
    SeedCard(
        "4966010000007909",
        "YIP KA MAN",
        "90000000",
        40_000,
        "REWARDS",
        "SMS undeliverable: enrol otpDeliveryFailed",
        sms_deliverable=False,
    ),
)

OTHER_BANK_TEST_CARD = ("4242424242424242", "another bank's card: pays, no points offer")


def seed_database() -> bool:
    """Create the seed data if it is not there yet. Returns True when anything was created."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(Programme)):
        _ensure_partner_client(clock.now())
        db.session.commit()
        return False
    now = clock.now()
    programmes = {}
    for code, name, rate, increment, minimum in PROGRAMMES:
        programme = Programme(
            code=code,
            name=name,
            conversion_rate=rate,
            currency_code="HKD",
            point_increment=increment,
            minimum_points=minimum,
        )
        db.session.add(programme)
        programmes[code] = programme
    db.session.flush()
    for seed_card in TEST_CARDS:
        create_seed_cardholder(seed_card, programmes.get(seed_card.programme or ""), now)
    _ensure_partner_client(now)
    db.session.commit()
    return True


def create_seed_cardholder(seed_card: SeedCard, programme: Programme | None, now: datetime) -> Card:
    """Create a cardholder with one card and its opening points (a ledger ISSUE transaction)."""
    holder = Cardholder(name=seed_card.holder, phone=seed_card.phone, created_at=now)
    db.session.add(holder)
    db.session.flush()
    card = Card(
        cardholder_id=holder.id,
        number=seed_card.number,
        last4=seed_card.number[-4:],
        brand="VISA",
        kind=seed_card.kind,
        programme_id=programme.id if programme else None,
        status=seed_card.status,
        credit_limit_cents=seed_card.credit_limit_cents,
        outstanding_cents=0,
        sms_deliverable=seed_card.sms_deliverable,
        behaviour=seed_card.behaviour,
        created_at=now,
    )
    db.session.add(card)
    db.session.flush()
    if programme is not None:
        ledger.cardholder_account(card)
        if seed_card.points:
            ledger.issue_points(card, seed_card.points, "Opening points balance", now, reference="SEED")
    return card


def _ensure_partner_client(now: datetime) -> None:
    """The demo merchant's credentials follow configuration, so changing them needs no reset."""
    client_id = current_app.config["PARTNER_CLIENT_ID"]
    secret = current_app.config["PARTNER_CLIENT_SECRET"]
    client = db.session.scalar(sa.select(PartnerClient).where(PartnerClient.client_id == client_id))
    if client is None:
        client = PartnerClient(
            client_id=client_id,
            secret_hash=hash_client_secret(secret),
            merchant_name=current_app.config["PARTNER_MERCHANT_NAME"],
            created_at=now,
        )
        db.session.add(client)
    elif not _secret_matches(client, secret):
        client.secret_hash = hash_client_secret(secret)


def _secret_matches(client: PartnerClient, secret: str) -> bool:
    return client_secret_matches(client.secret_hash, secret)


def reset_database() -> None:
    """The sandbox's 'reset to seed', in place: empty every table and seed again, in one transaction.

    Tables are never dropped: the workers of a running sandbox keep their connections and go on querying
    the same tables, and a reset that fails half-way rolls back to the state before it. PostgreSQL empties
    the tables with one TRUNCATE (which also restarts the ids); SQLite deletes the rows children first
    (its ids restart by themselves once a table is empty).
    """
    request_log.writer(current_app).discard()  # calls made before the reset are not in the new log
    rate_limits.clear_counters()  # failed sign-ins this worker counted (the OTP limits go with the tables)
    db.session.remove()
    empty_tables()
    seed_database()  # commits the emptied tables and the seed together


def empty_tables() -> None:
    """Delete every row of the app's tables in the session's transaction (the caller commits)."""
    tables = db.metadata.sorted_tables
    if db.session.get_bind().dialect.name == "postgresql":
        names = ", ".join(db.engine.dialect.identifier_preparer.format_table(table) for table in tables)
        db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY"))
        return
    for table in reversed(tables):  # children before the rows they refer to
        db.session.execute(table.delete())


def format_card_number(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def describe_test_data() -> str:
    """A plain-text table of the test cards and credentials, for make demo and the README."""
    config = current_app.config
    lines = [
        "Summit Bank sandbox test cards (any future expiry, any 3-digit CVC):",
    ]
    for card in TEST_CARDS:
        points = f"{card.points:,} pts" if card.points is not None else "no points"
        lines.append(
            f"  {format_card_number(card.number)}  {card.holder:<14} mobile {card.phone[:4]} {card.phone[4:]}"
            f"  {points:>13}  {card.behaviour}"
        )
    number, behaviour = OTHER_BANK_TEST_CARD
    lines.append(f"  {format_card_number(number)}  {'any name':<14} {'':<16}  {'':>13}  {behaviour}")
    lines += [
        "",
        f"Partner API credentials: client_id={config['PARTNER_CLIENT_ID']} "
        f"client_secret={config['PARTNER_CLIENT_SECRET']}",
        f"Sandbox key (header X-Sandbox-Key): {config['SANDBOX_KEY']}",
        f"Console password: {config['CONSOLE_PASSWORD']}",
    ]
    return "\n".join(lines)
