"""A bounded schemathesis run against the live issuer's /openapi.json: every operation, real ids in the paths.

Each operation is one test; schemathesis (Hypothesis) generates requests from the document, with a partner token
and the partner headers, and the path parameters replaced by ids that exist (an active link, a redemption, a
card payment), so the requests reach the rules and not only the 404 of an unknown id. Each answer must be no
server error, a status the document lists for the operation and a body that matches its schema. Derandomised
with a small example budget, so the run is the same every time and takes well under a minute.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from .harness import SANDBOX_KEY
from .sandbox_api import PartnerApi, SandboxApi

REWARDS = "/gcb/api/v1/apac/rewards"
TOKEN_SUFFIX = "/oauth2/token/hk/gcb"
MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def issuer_schema(issuer_url: str):
    """The issuer's own OpenAPI document, as a merchant's tooling would download it."""
    return schemathesis.openapi.from_url(f"{issuer_url}/openapi.json")


@pytest.fixture
def real_ids(partner: PartnerApi, sandbox: SandboxApi, issuer_url: str) -> dict[str, str]:
    """Ids that exist on the freshly reset sandbox, by the path parameter names of the document."""
    link = partner.link_card(sandbox, "1190", "93456789", f"C-FUZZ-{uuid.uuid4().hex[:8]}")
    redemption = partner.post(
        f"{REWARDS}/{link}/redemption",
        json={
            "transactionReferenceNumber": f"HM-FUZZ-{uuid.uuid4().hex[:8]}",
            "redemptionOrder": {
                "transactionAmount": "500.00",
                "currencyCode": "HKD",
                "pointsToRedeem": 20_000,
                "transactionDescription": "Fuzzing",
            },
        },
    )
    assert redemption.status_code == 200, redemption.text
    payment = partner.post(
        "/gateway/v1/payments",
        headers={"Idempotency-Key": f"FUZZ-{uuid.uuid4().hex}"},
        json={
            "amount": 52_000,
            "currency": "HKD",
            "card": {
                "number": "4966020000001190",
                "expiryMonth": 12,
                "expiryYear": 2030,
                "cvc": "123",
                "holderName": "LEE KA YAN",
            },
            "merchantReference": f"HM-FUZZ-{uuid.uuid4().hex[:8]}",
        },
    )
    assert payment.status_code == 201, payment.text
    return {
        "rewardLinkCode": link,
        "orderId": redemption.json()["orderId"],
        "paymentId": payment.json()["paymentId"],
    }


def partner_headers(partner: PartnerApi, path: str) -> dict[str, str]:
    """The partner headers of DESIGN.md; the token call authenticates with the client's Basic credentials."""
    if path.endswith(TOKEN_SUFFIX):
        credentials = base64.b64encode(f"{partner.client_id}:{partner.client_secret}".encode()).decode()
        return {"Authorization": f"Basic {credentials}", "Accept": "application/json"}
    return {
        "Authorization": f"Bearer {partner.token()}",
        "client_id": partner.client_id,
        "uuid": str(uuid.uuid4()),
        "Accept": "application/json",
        "X-Sandbox-Key": SANDBOX_KEY,
    }


def with_real_ids(path_parameters: dict[str, Any] | None, real_ids: dict[str, str]) -> dict[str, Any] | None:
    if not path_parameters:
        return path_parameters
    missing = set(path_parameters) - set(real_ids)
    assert not missing, f"no real id for the path parameters {sorted(missing)}: add one to real_ids"
    return {name: real_ids[name] for name in path_parameters}


def fuzz_operation(operation, partner: PartnerApi, real_ids: dict[str, str], issuer_url: str) -> int:
    """Up to MAX_EXAMPLES generated requests to one operation, each answer checked; returns how many were sent."""
    session = requests.Session()
    sent = []

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        print_blob=False,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found, quickly
    )
    @given(case=operation.as_strategy())
    def run(case) -> None:
        case.path_parameters = with_real_ids(case.path_parameters, real_ids)
        headers = {**partner_headers(partner, operation.path), **dict(case.headers or {})}
        case.call_and_validate(base_url=issuer_url, session=session, headers=headers, checks=CHECKS, timeout=10)
        sent.append(case.operation.label)

    run()
    return len(sent)


def test_every_issuer_operation_answers_within_its_documented_contract(
    issuer_schema, partner: PartnerApi, real_ids: dict[str, str], issuer_url: str
):
    # Not schemathesis' @schema.parametrize with pytest.from_fixture: its lazy loader sets Function._nodeid, which
    # pytest 9.2 no longer has. One test walks every operation and reports each that failed.
    operations = [result.ok() for result in issuer_schema.get_all_operations()]
    # Unlinking with the real link code ends it: every other operation first, so they see an active link.
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    failures: dict[str, str] = {}
    sent: dict[str, int] = {}
    for operation in operations:
        try:
            sent[operation.label] = fuzz_operation(operation, partner, real_ids, issuer_url)
        except Exception as error:  # noqa: BLE001 - every operation is tried; all failures are reported below
            failures[operation.label] = str(error)[:2000]
    assert len(operations) >= 10
    assert all(sent.get(operation.label, 1) >= 1 for operation in operations), sent  # every operation was called
    assert failures == {}, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
