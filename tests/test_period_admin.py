"""Failed periods in the admin (change page, list, dashboard), the retry button, the cohorts
inline, and the plan's billing calendar in the plan form."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import steps
from billing.models import ApportionmentPeriod, PeriodChunk, PeriodCohort, PeriodStatus
from members.models import Plan
from tests.factories import PlanFactory
from tests.test_billing import period_for

pytestmark = pytest.mark.django_db
FAILED_AT = datetime.datetime(2018, 12, 15, 3, 0, tzinfo=datetime.UTC)
# Longer than the dashboard's 200 characters, with a tail that must not appear there.
CAUSE = "could not serialize access due to concurrent update " + "x" * 170 + "TAIL-ONLY-ON-PAGE"


@pytest.fixture
def failed_period():
    period = period_for(PlanFactory())
    steps.period_record_failure(period_id=period.pk, error=RuntimeError(CAUSE), now=FAILED_AT)
    period.refresh_from_db()
    assert period.status == PeriodStatus.FAILED
    return period


def change_url(period):
    return reverse("admin:billing_apportionmentperiod_change", args=[period.pk])


def test_a_failed_period_shows_its_error_on_its_page_in_the_list_and_on_the_dashboard(
    client, finance, failed_period
):
    client.force_login(finance)
    page = client.get(change_url(failed_period))
    html = page.content.decode()
    assert page.status_code == 200 and page.context["can_retry"] and not page.context["can_run"]
    assert 'id="period-failure"' in html and "TAIL-ONLY-ON-PAGE" in html  # the whole text
    assert reverse("admin:billing_period_retry", args=[failed_period.pk]) in html
    assert "2018-12-15 11:00 +0800" in html  # failed_at, in Shanghai time, with its offset
    assert 'id="period-panel"' in html  # the run panel is still there

    listing = client.get(reverse("admin:billing_apportionmentperiod_changelist")).content.decode()
    assert "var(--error-fg" in listing and "2018-12-15 11:00 +0800" in listing

    index = client.get(reverse("admin:index")).content.decode()
    assert 'id="needs-attention"' in index and change_url(failed_period) in index
    head = failed_period.failure[:200]
    assert head in index and failed_period.failure[:201] not in index
    assert "TAIL-ONLY-ON-PAGE" not in index


def test_the_dashboard_says_nothing_when_no_period_failed_or_to_those_who_cannot_see_periods(
    client, finance, reviewer, failed_period
):
    client.force_login(reviewer)
    assert 'id="needs-attention"' not in client.get(reverse("admin:index")).content.decode()
    ApportionmentPeriod.objects.filter(pk=failed_period.pk).update(status=PeriodStatus.POSTED)
    client.force_login(finance)
    assert 'id="needs-attention"' not in client.get(reverse("admin:index")).content.decode()


def test_the_dashboard_costs_the_same_queries_for_one_failed_period_or_thirteen(
    client, finance, failed_period
):
    from django.core.cache import cache

    client.force_login(finance)
    # Warm the cached figures and the session. Counted afresh here: figures another test
    # cached earlier could expire between the two counts below (the cache is shared Redis).
    cache.delete_many(["dashboard", "desk-kpis"])
    client.get(reverse("admin:index"))
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("admin:index"))
    for day in range(16, 28):
        period = period_for(
            failed_period.plan, datetime.datetime(2019, 1, day, tzinfo=datetime.UTC)
        )
        steps.period_record_failure(period_id=period.pk, error=ValueError("x"), now=FAILED_AT)
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("admin:index")).content.decode()
    assert len(many.captured_queries) == len(one.captured_queries)
    assert page.count("/billing/apportionmentperiod/") >= 10 and "?status__exact=failed" in page


def test_finance_retries_a_failed_period_which_is_enqueued_once(
    client, finance, failed_period, django_capture_on_commit_callbacks
):
    client.force_login(finance)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("admin:billing_period_retry", args=[failed_period.pk]), follow=True
        )
    assert response.redirect_chain[-1][0] == change_url(failed_period)
    assert "The period is handed to the workers again." in [
        str(m) for m in response.context["messages"]
    ]
    assert len(callbacks) == 1  # run_period, after the commit
    period = ApportionmentPeriod.objects.get(pk=failed_period.pk)
    assert period.status == PeriodStatus.OPEN  # no chunk was prepared before the failure
    assert period.enqueued_at is not None and period.failed_at is None and period.failure == ""
    assert period.retried_by == finance and period.retried_at == period.enqueued_at
    assert period.retries == 1 and period.enqueued_by is None  # it first ran on the schedule
    html = response.content.decode()
    assert "last retried by" in html.lower() and finance.username in html
    assert 'id="period-failure"' not in response.content.decode()

    with django_capture_on_commit_callbacks() as again:
        second = client.post(
            reverse("admin:billing_period_retry", args=[failed_period.pk]), follow=True
        )
    assert any("not failed" in str(m) for m in second.context["messages"])
    assert again == []


def test_a_reviewer_cannot_retry_and_is_told_so(
    client, reviewer, failed_period, django_capture_on_commit_callbacks
):
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("admin:billing_period_retry", args=[failed_period.pk]), follow=True
        )
    assert response.status_code == 200  # sent to the index, where the message shows
    assert any("may not run" in str(m) for m in response.context["messages"])
    assert callbacks == []
    period = ApportionmentPeriod.objects.get(pk=failed_period.pk)
    assert period.status == PeriodStatus.FAILED and period.enqueued_at is None
    assert period.retried_by is None and period.retries == 0
    assert period.failure == failed_period.failure and period.failed_at == FAILED_AT


def test_the_retry_url_refuses_get(client, finance, failed_period):
    client.force_login(finance)
    response = client.get(reverse("admin:billing_period_retry", args=[failed_period.pk]))
    assert response.status_code == 404
    assert ApportionmentPeriod.objects.get(pk=failed_period.pk).status == PeriodStatus.FAILED


def _half_done(period):
    PeriodChunk.objects.bulk_create(
        [
            PeriodChunk(period=period, index=0, first_id=1, last_id=10, done_at=FAILED_AT),
            PeriodChunk(period=period, index=1, first_id=11, last_id=20),
        ]
    )
    ApportionmentPeriod.objects.filter(pk=period.pk).update(chunks_total=2)


def test_the_period_list_costs_the_same_for_one_period_or_twelve(client, finance, failed_period):
    _half_done(failed_period)
    client.force_login(finance)
    url = reverse("admin:billing_apportionmentperiod_changelist")
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for day in range(16, 27):
        plan = PlanFactory()  # each row names its own plan
        _half_done(period_for(plan, datetime.datetime(2019, 1, day, tzinfo=datetime.UTC)))
    with CaptureQueriesContext(connection) as twelve:
        page = client.get(url)
    assert len(twelve.captured_queries) == len(one.captured_queries)
    assert page.content.decode().count('<td class="field-progress">1/2</td>') == 12


def _cohorts(period, count):
    PeriodCohort.objects.bulk_create(
        PeriodCohort(
            period=period,
            index=index,
            members_count=10 + index,
            cases_count=1,
            gross_base_fen=1000,
            net_base_fen=1000,
            payable_base_fen=10,
            gross_share_fen=Decimal("1000.123456"),
            payable_share_fen=Decimal("10.000000"),
        )
        for index in range(count)
    )


def test_the_change_page_shows_the_calendar_and_at_most_50_cohorts_at_a_fixed_cost(client, finance):
    plan = PlanFactory(payout_delay_days=2)
    earlier = period_for(plan, datetime.datetime(2018, 11, 30, tzinfo=datetime.UTC))
    period = period_for(plan)
    ApportionmentPeriod.objects.filter(pk=period.pk).update(previous_period=earlier)
    client.force_login(finance)
    _cohorts(period, 1)
    client.get(change_url(period))
    with CaptureQueriesContext(connection) as few:
        client.get(change_url(period))
    PeriodCohort.objects.filter(period=period).delete()
    _cohorts(period, 60)
    with CaptureQueriesContext(connection) as many:
        page = client.get(change_url(period))
    assert len(many.captured_queries) == len(few.captured_queries)
    (inline,) = page.context["inline_admin_formsets"]
    assert len(inline.formset.forms) == 50
    html = page.content.decode()
    assert "10.00123456" in html  # 1000.123456 fen, in yuan and "the first 50" in html
    assert "2018-12-17" in html  # runs_at: the cutoff plus two days
    assert str(earlier) in html and change_url(earlier) in html  # previous_period, linked


def _plan_form_data(admin_client, plan):
    """What the plan's change form would post back unchanged."""
    page = admin_client.get(reverse("admin:members_plan_change", args=[plan.pk]))
    data = {}

    def put(bound):
        value = bound.value()
        if isinstance(value, bool):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list):
            data[bound.html_name] = ",".join(map(str, value))
        elif value is not None:
            data[bound.html_name] = value

    for bound in page.context["adminform"].form:
        put(bound)
    for inline in page.context["inline_admin_formsets"]:
        for bound in inline.formset.management_form:
            put(bound)
        for form in inline.formset.forms:
            for bound in form:
                put(bound)
    return data


def test_the_plan_form_refuses_cutoff_day_31_and_saves_valid_days_sorted(admin_client):
    plan = PlanFactory()
    data = _plan_form_data(admin_client, plan)
    url = reverse("admin:members_plan_change", args=[plan.pk])

    refused = admin_client.post(url, data | {"cutoff_days": "14,31", "payout_delay_days": "3"})
    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors
    assert "cutoff_days" in errors and "between 1 and 28" in str(errors["cutoff_days"])
    plan.refresh_from_db()
    assert plan.cutoff_days == [1, 16] and plan.payout_delay_days == 0

    repeated = admin_client.post(url, data | {"cutoff_days": "14,14"})
    assert "cutoff_days" in repeated.context["adminform"].form.errors

    saved = admin_client.post(url, data | {"cutoff_days": "28, 14", "payout_delay_days": "3"})
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    plan.refresh_from_db()
    assert plan.cutoff_days == [14, 28] and plan.payout_delay_days == 3
    assert Plan.objects.filter(pk=plan.pk, cutoff_days=[14, 28]).exists()


def test_an_open_period_claims_no_check_it_has_not_made(client, finance):
    """Issue 25: an open period with 0 of 0 chunks showed "all chunks done: ✓ · shares equal
    cases and fees: ✓" before anything had run."""
    plan = PlanFactory()
    period = ApportionmentPeriod.objects.create(
        plan=plan,
        starts_at=datetime.datetime(2018, 12, 1, tzinfo=datetime.UTC),
        cutoff_at=datetime.datetime(2018, 12, 14, tzinfo=datetime.UTC),
    )
    client.force_login(finance)
    page = client.get(change_url(period))
    checks = page.context["reconciliation"]["checks"]
    assert checks["all chunks done"] is None and checks["shares equal cases and fees"] is None
    assert "✓" not in page.content.decode().split("Reconciliation")[1].split("</p>")[0]
    ApportionmentPeriod.objects.filter(pk=period.pk).update(
        status=PeriodStatus.RUNNING, chunks_total=4
    )
    for index in range(4):
        PeriodChunk.objects.create(
            period=period, index=index, first_id=index * 10, last_id=index * 10 + 9,
            done_at=period.cutoff_at if index == 0 else None,
        )  # fmt: skip
    checks = client.get(change_url(period)).context["reconciliation"]["checks"]
    assert checks["all chunks done"] is None  # still running: not yet, not a red cross
