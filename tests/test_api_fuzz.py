"""Schemathesis against our own OpenAPI schema, in process (WSGI), as an authenticated member.

Fixed seed (MUTUAL_FUZZ_SEED picks another), at least 500 generated requests over every
operation, and every one of schemathesis's default checks: no 5xx, every status the schema
documents (errors included), bodies, content types and headers as documented, invalid input
refused and valid input accepted."""

import os

import pytest
from hypothesis import HealthCheck, seed, settings
from knox.models import AuthToken
from schemathesis import openapi
from schemathesis.config import SchemathesisConfig

from mutual.wsgi import application
from tests.claim_steps import to_publicized
from tests.factories import ClaimFactory, MembershipFactory

# These writes check rules that no schema can state (whose membership, which plan exists, the
# waiting period, the file's real type, the password): a well-formed request may be refused
# with a 400 naming the rule, as the README says. Everywhere else, and for reads always,
# schemathesis's default holds: a request valid by the schema is not a 400.
RULE_CHECKED_WRITES = [
    "/api/auth/token/",
    "/api/claims/",
    "/api/claims/{id}/evidence/",
    "/api/memberships/",
    "/api/cases/{id}/disputes/",
    "/api/cases/{id}/votes/",
]
config = SchemathesisConfig.from_dict(
    {
        "operations": [
            {
                "include-method": "POST",
                "include-path": RULE_CHECKED_WRITES,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": [
                            "2xx",
                            "3xx",
                            "400",
                            "401",
                            "403",
                            "404",
                            "409",
                            "429",
                            "5xx",
                        ]
                    }
                },
            }
        ]
    }
)
schema = openapi.from_wsgi("/api/schema/", application, config=config)
EXAMPLES_PER_OPERATION = 40
MINIMUM_REQUESTS = 500
sent = {"requests": 0, "operations": set()}


@pytest.fixture(scope="module", autouse=True)
def enough_requests():
    """After the module: the fuzzing really sent the requests the issue asks for."""
    yield
    operations = {op.ok().label for op in schema.get_all_operations()}
    print(f"schemathesis: {sent['requests']} requests over {len(sent['operations'])} operations")
    if sent["operations"] == operations:  # not when a -k filter ran only some of them
        assert sent["requests"] >= MINIMUM_REQUESTS, sent["requests"]


@pytest.fixture
def keep_test_connection():
    """As Django's test client does: a request must not close the test's open transaction."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def member_token(db, investigator, keep_test_connection):
    import datetime

    membership = MembershipFactory()
    # Something to find: a public case in the member's plan, and a claim of their own.
    to_publicized(
        ClaimFactory(membership=MembershipFactory(plan=membership.plan)),
        investigator=investigator,
        now=datetime.datetime.now(datetime.UTC),
    )
    ClaimFactory(membership=membership)
    return AuthToken.objects.create(user=membership.member.user, expiry=None)[1]


@schema.parametrize()
@seed(int(os.environ.get("MUTUAL_FUZZ_SEED", "20181207")))
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
@pytest.mark.django_db
def test_no_server_errors_and_responses_match_the_schema(case, member_token):
    sent["requests"] += 1
    sent["operations"].add(case.operation.label)
    # No `checks=`: schemathesis's full default set.
    case.call_and_validate(headers={"Authorization": f"Token {member_token}"})
