"""Pydantic models of the sandbox API's bodies (/sandbox/api): the one source of each request and answer.

Requests: strict JSON types ("100" is not a number), unknown fields refused, validated by ``api/validation.py``.
Answers: strict and closed too (a field the document does not list is a bug), built from the rules' objects by
their ``of`` constructors, money as decimal strings (``money.cents_to_amount``), points as integers, times as
ISO 8601 strings in UTC. Both generate the ``components.schemas`` of ``GET /sandbox/api/openapi.json``.
Field names are the wire's camelCase (``to_camel`` of the Python names); extend, never rename.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from . import clock, controls
from .inspection import OutboxMessage
from .models import Card, CardStatementLine, FaultRule, LedgerTransaction, RequestLogEntry, RewardLink
from .money import AMOUNT_PATTERN, cents_to_amount
from .otp import otp_in_sms

MAX_CLOCK_ADVANCE_SECONDS = 10 * 366 * 24 * 3600  # ten years is plenty for any expiry test
MAX_WHOLE_NUMBER = 10**12
LinkStatus = Literal["PENDING_ACTIVATION", "ACTIVE", "LOCKED", "UNLINKED"]
LINK_STATUSES: tuple[str, ...] = get_args(LinkStatus)

# --- Request bodies -------------------------------------------------------------------------------


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is required and must not be blank")
    return value


def _amount_shape(value: Any) -> Any:
    """An amount arrives as a decimal string or a JSON number; money.parse_amount then checks its value."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError('must be a decimal string such as "50000.00"')
    return value


WholeNumber = Annotated[int, Field(ge=-MAX_WHOLE_NUMBER, le=MAX_WHOLE_NUMBER)]
Text = Annotated[str, AfterValidator(_not_blank)]
WireAmount = Annotated[str | int | Decimal, BeforeValidator(_amount_shape)]


class RequestBody(BaseModel):
    """A sandbox API body: JSON types as sent (no coercion: "100" is not a number), unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid", alias_generator=to_camel, frozen=True)


class ClockAdvance(RequestBody):
    seconds: Annotated[int, Field(ge=0, le=MAX_CLOCK_ADVANCE_SECONDS)]


class PointsAdjustment(RequestBody):
    delta: WholeNumber = Field(description="Points to add (positive) or remove (negative).")
    reason: Annotated[Text, Field(max_length=controls.REASON_MAX_LENGTH)]


class TestCardholderRequest(RequestBody):
    name: Annotated[Text, Field(max_length=80)]
    mobile: Annotated[Text, Field(max_length=16)]
    programme: Literal["REWARDS", "PREMIER"] | None = Field("REWARDS", description="null: a debit card, no points.")
    points: WholeNumber | None = 0
    credit_limit: WireAmount = "50000.00"


class FaultRequest(RequestBody):
    endpoint: Annotated[Text, Field(max_length=80, description="A Flask endpoint name from GET /faults.")]
    latency_ms: WholeNumber | None = 0
    error_status: WholeNumber | None = None
    error_code: Annotated[str, Field(max_length=60)] | None = None
    fail_times: WholeNumber | None = Field(None, description="How many calls it affects; null: until removed.")
    drop_response_after_commit: bool = False


REQUEST_MODELS: tuple[type[RequestBody], ...] = (ClockAdvance, PointsAdjustment, TestCardholderRequest, FaultRequest)


# --- Answers --------------------------------------------------------------------------------------


class Answer(BaseModel):
    """A sandbox API answer: strict, closed, camelCase on the wire."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dict the wire shows."""
        return self.model_dump(mode="json")


IsoTime = Annotated[str, Field(json_schema_extra={"format": "date-time"}, examples=["2026-11-26T08:00:00Z"])]
Amount = Annotated[str, Field(pattern=AMOUNT_PATTERN, examples=["50000.00"])]
SignedAmount = Annotated[
    str,
    Field(pattern=r"^-?[0-9]{1,12}\.[0-9]{2}$", examples=["-200.00"], description="A decimal string; may be negative."),
]
Count = Annotated[int, Field(ge=0)]


class SmsMessage(Answer):
    id: int
    phone: str = Field(examples=["91234567"])
    body: str
    sent_at: IsoTime
    otp: str | None = Field(description="A convenience for testers: the digits as they appear in the text.")
    reward_link_code: str | None = Field(description="The link the code was sent for (null: not sent for one).")
    merchant_customer_reference_id: str | None

    @classmethod
    def of(cls, message: OutboxMessage) -> SmsMessage:
        return cls(
            id=message.id,
            phone=message.phone,
            body=message.body,
            sent_at=clock.iso(message.sent_at),
            otp=otp_in_sms(message.body),
            reward_link_code=message.reward_link_code,
            merchant_customer_reference_id=message.customer_reference,
        )


class Clock(Answer):
    now: IsoTime
    offset_seconds: int = Field(description="How far the sandbox clock runs ahead of real time.")

    @classmethod
    def current(cls) -> Clock:
        return cls(now=clock.iso(clock.now()), offset_seconds=clock.offset_seconds())


class ResetDone(Answer):
    status: Literal["reset"]


class RequestLogLine(Answer):
    """One logged partner API or gateway call; bodies are masked (no card numbers, no OTPs)."""

    id: int
    at: IsoTime
    client_id: str
    method: str
    path: str
    endpoint: str
    status: int
    latency_ms: int
    uuid: str
    idempotency_key: str
    replayed: bool
    fault: str
    request_body: str
    response_body: str
    answer_logged: bool = Field(
        description="false: a money call's row whose answer never reached the log (its worker stopped first)."
    )

    @classmethod
    def of(cls, entry: RequestLogEntry) -> RequestLogLine:
        return cls(
            id=entry.id,
            at=clock.iso(entry.at),
            client_id=entry.client_id,
            method=entry.method,
            path=entry.path,
            endpoint=entry.endpoint,
            status=entry.status,
            latency_ms=entry.latency_ms,
            uuid=entry.request_uuid,
            idempotency_key=entry.idempotency_key,
            replayed=entry.replayed,
            fault=entry.fault,
            request_body=entry.request_body,
            response_body=entry.response_body,
            answer_logged=entry.answer_logged,
        )


class SandboxCard(Answer):
    """A card as testers see it: the number masked, only the last four digits in the clear."""

    last4: str = Field(pattern=r"^[0-9]{4}$")
    masked_number: str = Field(examples=["•••• •••• •••• 8741"])
    brand: str
    kind: Literal["credit", "debit"]
    holder: str
    mobile: str
    programme: str | None
    programme_name: str | None
    status: Literal["ACTIVE", "FROZEN"]
    points_balance: int | None = Field(description="null: a card outside every points programme.")
    currency_code: Literal["HKD"]
    credit_limit: Amount
    outstanding: SignedAmount
    credit_available: SignedAmount
    sms_deliverable: bool
    behaviour: str

    @classmethod
    def fields_of(cls, card: Card, balance: int | None) -> dict[str, Any]:
        return {
            "last4": card.last4,
            "masked_number": card.masked_number,
            "brand": card.brand,
            "kind": card.kind,
            "holder": card.cardholder.name,
            "mobile": card.cardholder.phone,
            "programme": card.programme.code if card.programme else None,
            "programme_name": card.programme.name if card.programme else None,
            "status": card.status,
            "points_balance": balance if card.programme else None,
            "currency_code": "HKD",
            "credit_limit": cents_to_amount(card.credit_limit_cents),
            "outstanding": cents_to_amount(card.outstanding_cents),
            "credit_available": cents_to_amount(card.credit_available_cents),
            "sms_deliverable": card.sms_deliverable,
            "behaviour": card.behaviour,
        }

    @classmethod
    def of(cls, card: Card, balance: int | None) -> SandboxCard:
        return cls(**cls.fields_of(card, balance))


class CardList(Answer):
    cards: list[SandboxCard]


class LedgerEntry(Answer):
    entry_id: int
    transaction_id: int
    created_at: IsoTime
    kind: str
    description: str
    reference: str
    points: int
    balance_after: int

    @classmethod
    def of(cls, line: controls.LedgerLine) -> LedgerEntry:
        return cls(
            entry_id=line.entry_id,
            transaction_id=line.transaction_id,
            created_at=clock.iso(line.created_at),
            kind=line.kind,
            description=line.description,
            reference=line.reference,
            points=line.amount,
            balance_after=line.balance_after,
        )


class StatementLine(Answer):
    id: int
    kind: Literal["PURCHASE", "REFUND", "POINTS_CREDIT", "POINTS_CREDIT_REVERSAL"]
    amount: SignedAmount = Field(description="Positive adds to what the cardholder owes; credits are negative.")
    currency_code: str
    description: str
    merchant_name: str
    reference: str
    transaction_date: IsoTime
    posting_date: str = Field(json_schema_extra={"format": "date"}, examples=["2026-11-26"])

    @classmethod
    def of(cls, line: CardStatementLine) -> StatementLine:
        return cls(
            id=line.id,
            kind=line.kind,
            amount=cents_to_amount(line.amount_cents),
            currency_code=line.currency_code,
            description=line.description,
            merchant_name=line.merchant_name,
            reference=line.reference,
            transaction_date=clock.iso(line.transaction_date),
            posting_date=line.posting_date.isoformat(),
        )


class CardDetail(SandboxCard):
    """A card with its points ledger and its statement."""

    ledger: list[LedgerEntry]
    statement: list[StatementLine]

    @classmethod
    def with_history(
        cls,
        card: Card,
        balance: int | None,
        ledger: list[controls.LedgerLine],
        statement: list[CardStatementLine],
    ) -> CardDetail:
        return cls(
            **SandboxCard.fields_of(card, balance),
            ledger=[LedgerEntry.of(line) for line in ledger],
            statement=[StatementLine.of(line) for line in statement],
        )


class NewTestCard(SandboxCard):
    """A test cardholder's new card: the one answer with the full number, and only in demo mode."""

    number: str | None = Field(None, description="The full card number; absent outside demo mode.")
    expiry: Literal["any future month"] = "any future month"
    cvc: Literal["any 3 digits"] = "any 3 digits"


class AdjustmentTransaction(Answer):
    id: int
    kind: str
    description: str
    points: int
    created_at: IsoTime


class PointsAdjusted(Answer):
    card: SandboxCard
    transaction: AdjustmentTransaction

    @classmethod
    def of(cls, card: Card, balance: int, transaction: LedgerTransaction, delta: int) -> PointsAdjusted:
        done = AdjustmentTransaction(
            id=transaction.id,
            kind=transaction.kind,
            description=transaction.description,
            points=delta,
            created_at=clock.iso(transaction.created_at),
        )
        return cls(card=SandboxCard.of(card, balance), transaction=done)


class Fault(Answer):
    id: int
    endpoint: str
    latency_ms: int
    error_status: int | None
    error_code: str | None
    remaining_failures: int | None = Field(description="Calls it still affects; null: until removed.")
    drop_response_after_commit: bool
    description: str
    created_at: IsoTime

    @classmethod
    def of(cls, rule: FaultRule) -> Fault:
        return cls(
            id=rule.id,
            endpoint=rule.endpoint,
            latency_ms=rule.latency_ms,
            error_status=rule.error_status,
            error_code=rule.error_code,
            remaining_failures=rule.remaining_failures,
            drop_response_after_commit=rule.drop_response_after_commit,
            description=controls.describe_fault(rule),
            created_at=clock.iso(rule.created_at),
        )


class FaultTarget(Answer):
    name: str = Field(examples=["redemptions.redeem"])
    methods: str = Field(examples=["POST"])
    path: str


class FaultList(Answer):
    faults: list[Fault]
    endpoints: list[FaultTarget] = Field(description="The endpoints a fault rule can target.")

    @classmethod
    def of(cls, rules: list[FaultRule], endpoints: list[controls.FaultEndpoint]) -> FaultList:
        targets = [FaultTarget(name=e.name, methods=e.methods, path=e.path) for e in endpoints]
        return cls(faults=[Fault.of(rule) for rule in rules], endpoints=targets)


class LedgerCheck(Answer):
    ok: bool
    problems: list[str]


class LedgerHealth(Answer):
    issued: int
    redeemed: int
    reversed: int
    liability: int
    ledger_check: LedgerCheck

    @classmethod
    def of(cls, health: controls.LedgerHealth) -> LedgerHealth:
        return cls(
            issued=health.issued,
            redeemed=health.redeemed,
            reversed=health.reversed,
            liability=health.liability,
            ledger_check=LedgerCheck(ok=health.ok, problems=health.problems),
        )


class Link(Answer):
    id: int
    reward_link_code: str
    merchant: str = Field(description="The partner's client_id.")
    merchant_name: str
    merchant_customer_reference_id: str
    card_last4: str
    holder: str
    status: LinkStatus
    failed_attempts: Count
    resends_used: Count
    created_at: IsoTime
    activated_at: IsoTime | None
    unlinked_at: IsoTime | None

    @classmethod
    def of(cls, link: RewardLink) -> Link:
        return cls(
            id=link.id,
            reward_link_code=link.code,
            merchant=link.partner_client.client_id,
            merchant_name=link.partner_client.merchant_name,
            merchant_customer_reference_id=link.merchant_customer_reference,
            card_last4=link.card.last4,
            holder=link.card.cardholder.name,
            status=link.status,
            failed_attempts=link.failed_attempts,
            resends_used=link.resends_used,
            created_at=clock.iso(link.created_at),
            activated_at=clock.iso(link.activated_at),
            unlinked_at=clock.iso(link.unlinked_at),
        )


class LinkList(Answer):
    links: list[Link]


SmsOutbox = TypeAdapter(list[SmsMessage])
RequestLog = TypeAdapter(list[RequestLogLine])

ANSWER_MODELS: tuple[type[Answer], ...] = (
    SmsMessage,
    Clock,
    ResetDone,
    RequestLogLine,
    SandboxCard,
    CardList,
    CardDetail,
    NewTestCard,
    PointsAdjusted,
    Fault,
    FaultList,
    LedgerHealth,
    Link,
    LinkList,
)
"""Every answer model; nested ones (LedgerEntry, StatementLine, ...) come with their $defs."""
