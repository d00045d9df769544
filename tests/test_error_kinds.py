"""Issue 13, "two kinds of error": a client's mistake (ServiceError) is a 4xx or a message; a
broken invariant (InvariantError) is never shown as a refusal: a 500 and an error logged."""

import datetime
import logging

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from billing import apportion
from billing.ledger import UnbalancedPosting, account_for, ledger_post
from members import services as member_services
from mutual.core.api import exception_handler
from mutual.core.errors import InvariantError, ServiceError
from tests.factories import MembershipFactory, PlanFactory
from tests.test_billing import period_for

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)


def test_the_two_kinds_share_no_type():
    assert not issubclass(InvariantError, ServiceError)
    assert not issubclass(ServiceError, InvariantError)
    assert issubclass(UnbalancedPosting, InvariantError)
    assert exception_handler(InvariantError("broken"), {}) is None  # left to Django: a 500


def test_an_unbalanced_posting_is_an_invariant_not_a_refusal():
    plan = PlanFactory()
    with pytest.raises(InvariantError) as error:
        ledger_post(
            key="k",
            description="d",
            now=NOW,
            lines=[
                (account_for(plan=plan, role="fund"), 5, 0),
                (account_for(plan=plan, role="sponsor"), 0, 4),
            ],
        )
    assert not isinstance(error.value, ServiceError)


@pytest.fixture
def member_api(plan):
    member = MembershipFactory(plan=plan).member
    client = APIClient()
    client.force_authenticate(member.user)
    client.raise_request_exception = False  # answer as in production
    return client


def test_the_api_answers_an_invariant_500_and_logs_it(member_api, monkeypatch, caplog):
    def broken(**kwargs):
        raise InvariantError("a case with no sharers")

    monkeypatch.setattr(member_services, "membership_join", broken)
    with caplog.at_level(logging.ERROR):
        answer = member_api.post("/api/memberships/", {"plan": 1})
    assert answer.status_code == 500
    assert answer.json() == {"detail": "Server error."}  # nothing of the cause leaks
    assert any(
        record.levelno >= logging.ERROR and record.exc_info and record.exc_info[0] is InvariantError
        for record in caplog.records
    )


def test_the_api_answers_a_client_mistake_400(member_api, monkeypatch):
    def refused(**kwargs):
        raise ServiceError("closed", code="plan_closed", field="plan")

    monkeypatch.setattr(member_services, "membership_join", refused)
    answer = member_api.post("/api/memberships/", {"plan": 1})
    assert answer.status_code == 400
    assert answer.json() == {"plan": ["closed"], "code": "plan_closed"}


@pytest.fixture
def finance_client(client, finance):
    client.force_login(finance)
    client.raise_request_exception = False
    return client


def _preview(client, period):
    return client.post(reverse("admin:billing_period_preview", args=[period.pk]))


def test_the_admin_answers_an_invariant_500_and_logs_it(finance_client, monkeypatch, caplog):
    period = period_for(PlanFactory())

    def broken(**kwargs):
        raise InvariantError("every case needs at least one sharer")

    monkeypatch.setattr(apportion, "period_preview", broken)
    with caplog.at_level(logging.ERROR):
        answer = _preview(finance_client, period)
    assert answer.status_code == 500
    assert any(
        record.levelno >= logging.ERROR and record.exc_info and record.exc_info[0] is InvariantError
        for record in caplog.records
    )


def test_the_admin_shows_a_client_mistake_as_a_message(finance_client, monkeypatch):
    period = period_for(PlanFactory())

    def refused(**kwargs):
        raise ServiceError("the earlier period is running", code="earlier_period_unfinished")

    monkeypatch.setattr(apportion, "period_preview", refused)
    answer = _preview(finance_client, period)
    assert answer.status_code == 302
    page = finance_client.get(answer.url)
    assert "the earlier period is running" in [str(m) for m in page.context["messages"]]
