import csv
import datetime
import io

import pytest
from django.urls import reverse

from billing.models import ApportionmentPeriod
from billing.schedule import periods_claim_due
from tests.factories import PlanFactory
from tests.test_billing import approved_claim, members, period_for, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_period(investigator):
    plan = PlanFactory(management_fee_bp=800, per_case_cap_fen=10)
    members(plan, 9)
    approved_claim(plan, investigator, amount_fen=1000_00)
    return period_for(plan)


def test_finance_previews_then_runs_a_period(
    client, finance, open_period, django_capture_on_commit_callbacks
):
    client.force_login(finance)
    page = client.get(reverse("admin:billing_apportionmentperiod_change", args=[open_period.pk]))
    assert page.status_code == 200 and page.context["can_run"]
    preview = client.post(reverse("admin:billing_period_preview", args=[open_period.pk]))
    assert preview.status_code == 200
    assert preview.context["members"] == "10" and preview.context["charged"] == "1.00"
    # Each case in yuan: the exact share per sharer, the cap, and what a sharer pays (issue
    # 25: a share of "3195" fen sat beside payouts in yuan, with no cap to explain it).
    [case] = preview.context["cases"]
    assert (case["share"], case["pays"], preview.context["cap"]) == ("108.00", "0.10", "0.10")
    assert (
        'id="period-preview"' in preview.content.decode()
        and "per-case cap" in preview.content.decode()
    )
    assert preview.context["sponsor"] == "1,079.00"
    assert not open_period.cases.exists()  # the preview wrote nothing

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("admin:billing_period_run", args=[open_period.pk]), follow=True
        )
    assert "The period is running." in [str(m) for m in response.context["messages"]]
    assert len(callbacks) == 1  # run_period is enqueued once, after the commit
    period = ApportionmentPeriod.objects.get(pk=open_period.pk)
    assert period.enqueued_at is not None and period.enqueued_by == finance
    listing = client.get(reverse("admin:billing_apportionmentperiod_changelist"))
    assert f'<td class="field-handed_by">{finance.username}</td>' in listing.content.decode()
    again = client.post(reverse("admin:billing_period_run", args=[open_period.pk]), follow=True)
    assert any("already" in str(m) for m in again.context["messages"])


def test_a_posted_period_shows_progress_reconciliation_and_exports_csv(
    client, finance, open_period
):
    posted = run(open_period)
    client.force_login(finance)
    page = client.get(reverse("admin:billing_apportionmentperiod_change", args=[posted.pk]))
    assert page.context["percent"] == 100
    assert page.context["reconciliation"]["reconciled"] is True
    export = client.get(reverse("admin:billing_period_csv", args=[posted.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0][:2] == ["membership_id", "cases_count"]
    assert len(rows) == 11 and sum(int(r[5]) for r in rows[1:]) == posted.charged_fen
    # A paid bill's time in Shanghai with its offset (issue 25: UTC read as the day before).
    from billing.models import Bill

    Bill.objects.filter(period=posted).update(
        paid_at=datetime.datetime(2018, 11, 27, 17, 0, tzinfo=datetime.UTC)
    )
    export = client.get(reverse("admin:billing_period_csv", args=[posted.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert {r[rows[0].index("paid_at")] for r in rows[1:]} == {"2018-11-28T01:00:00+08:00"}


def test_a_reviewer_cannot_reach_finance_pages(client, reviewer, open_period):
    client.force_login(reviewer)
    page = client.get(reverse("admin:billing_apportionmentperiod_change", args=[open_period.pk]))
    assert page.status_code == 403
    run = client.post(reverse("admin:billing_period_run", args=[open_period.pk]), follow=True)
    assert ApportionmentPeriod.objects.get(pk=open_period.pk).enqueued_at is None
    assert run.status_code in (200, 403)


def test_a_run_before_the_cutoff_is_refused_with_a_message(client, finance, investigator):
    from django.utils import timezone

    plan = PlanFactory()
    period = ApportionmentPeriod.objects.create(
        plan=plan, starts_at=timezone.now(), cutoff_at=timezone.now() + timezone.timedelta(days=3)
    )
    client.force_login(finance)
    response = client.post(reverse("admin:billing_period_run", args=[period.pk]), follow=True)
    assert any("has not passed" in str(m) for m in response.context["messages"])


def test_a_bill_page_breaks_the_bill_down_by_case_with_exact_shares_and_the_rounding(
    client, finance, investigator
):
    from billing.models import Bill

    plan = PlanFactory(management_fee_bp=0, per_case_cap_fen=10**9, yearly_cap_fen=10**9)
    members(plan, 2)
    claim = approved_claim(plan, investigator, amount_fen=100)  # 100 fen over 3: 33.333333 each
    period = run(period_for(plan))
    client.force_login(finance)
    for bill in Bill.objects.filter(period=period):
        page = client.get(reverse("admin:billing_bill_change", args=[bill.pk]))
        assert page.status_code == 200
        body = page.content.decode()
        assert f"<td>{claim.pk}</td><td>33.333333</td>" in body
        rounding = "0.666667" if bill.charged_fen == 34 else "-0.333333"
        assert f"<td>rounding</td><td>{rounding}</td>" in body


def test_a_period_the_schedule_hands_to_the_workers_says_so(client, finance, open_period):
    ApportionmentPeriod.objects.filter(pk=open_period.pk).update(runs_at=open_period.cutoff_at)
    assert periods_claim_due(now=open_period.cutoff_at) == [open_period.pk]
    period = ApportionmentPeriod.objects.get(pk=open_period.pk)
    assert period.enqueued_at == open_period.cutoff_at and period.enqueued_by is None
    client.force_login(finance)
    listing = client.get(reverse("admin:billing_apportionmentperiod_changelist"))
    assert '<td class="field-handed_by">the schedule</td>' in listing.content.decode()


def test_before_its_cutoff_a_period_offers_preview_but_no_run(client, finance, investigator):
    """Issue 25: Run beside Preview before the cutoff, with no word of it, invited a run the
    service then refused; now the page names the cutoff instead."""
    import time_machine

    period = period_for(PlanFactory())
    client.force_login(finance)
    url = reverse("admin:billing_apportionmentperiod_change", args=[period.pk])
    with time_machine.travel(period.cutoff_at - datetime.timedelta(hours=1), tick=False):
        page = client.get(url).content.decode()
    assert 'name="_preview"' in page and 'name="_run"' not in page
    assert 'id="runs-after-cutoff"' in page and "2018-12-15 08:00" in page  # Shanghai
    assert "not run yet" in page  # the checks of a period not run: no ✓
    with time_machine.travel(period.cutoff_at + datetime.timedelta(hours=1), tick=False):
        assert 'name="_run"' in client.get(url).content.decode()
