"""Schemathesis against our own OpenAPI schema, in process (WSGI), as an authenticated member.

Fixed seed, at least 500 generated requests over every operation. What must hold: no 5xx,
and every response whose status the schema documents matches its schema and content type."""

import pytest
from hypothesis import HealthCheck, seed, settings
from rest_framework.authtoken.models import Token
from schemathesis import openapi
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from mutual.wsgi import application
from tests.claim_steps import to_publicized
from tests.factories import ClaimFactory, MembershipFactory

schema = openapi.from_wsgi("/api/schema/", application)
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
    return Token.objects.create(user=membership.member.user).key


@schema.parametrize()
@seed(20181207)
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
    case.call_and_validate(
        headers={"Authorization": f"Token {member_token}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
