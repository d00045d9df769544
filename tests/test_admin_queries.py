"""Changelists stay fast at millions of rows: a bounded number of queries per page, and no
COUNT(*) over a whole table (the paginator asks the planner for an estimate instead)."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import ApportionmentPeriod
from mutual.core import admin_tools
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory
from tests.test_billing import approved_claim, members, period_for, run

pytestmark = pytest.mark.django_db
MAX_QUERIES_PER_PAGE = 15
FULL_COUNT = re.compile(r"SELECT COUNT\(\*\) AS \"__count\" FROM \"[a-z_]+\"\s*$", re.I)


@pytest.fixture
def large_table_behaviour(monkeypatch):
    # As if every table held millions of rows: the estimate path, never an exact count.
    monkeypatch.setattr(admin_tools, "EXACT_COUNT_BELOW", 0)


@pytest.fixture
def data(investigator):
    plan = PlanFactory()
    members(plan, 60)
    ClaimFactory.create_batch(5, membership=MembershipFactory(plan=plan))
    approved_claim(plan, investigator, amount_fen=10_000)
    run(period_for(plan))
    # Many periods: a sidebar filter naming each one must not cost a query per period.
    ApportionmentPeriod.objects.bulk_create(
        ApportionmentPeriod(
            plan=plan, starts_at=day - datetime.timedelta(days=15), cutoff_at=day, runs_at=day
        )
        for day in (
            datetime.datetime(2019, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(days=16 * i)
            for i in range(20)
        )
    )


@pytest.mark.parametrize("changelist", [
    "admin:members_member_changelist", "admin:members_membership_changelist",
    "admin:claims_claim_changelist", "admin:billing_bill_changelist",
    "admin:billing_posting_changelist",
])  # fmt: skip
@pytest.mark.parametrize("query", ["", "?p=2", "?status__exact=active", "?q=Member"])
def test_changelists_are_bounded_and_never_count_a_whole_table(
    admin_client, data, large_table_behaviour, changelist, query
):
    url = reverse(changelist) + query
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(url)
    # 400: a filter this list does not declare (mutual.core.admin_tools.StrictLookupsMixin)
    assert response.status_code in (200, 400), url
    sql = [q["sql"] for q in captured.captured_queries]
    assert len(sql) <= MAX_QUERIES_PER_PAGE, "\n".join(sql)
    assert not [s for s in sql if FULL_COUNT.search(s)], "\n".join(sql)
