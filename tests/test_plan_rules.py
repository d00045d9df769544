"""History of plan rules: every change kept with who, when, old and new values and the moment
it is in force from; a period is billed with the rules in force at its cutoff (the mutual
treasure's fee went from 10% to 8% mid-year)."""

import datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from simple_history.models import registered_models

from billing import steps
from billing.models import ApportionmentPeriod, Bill
from claims.models import Condition
from members import plan_rules
from members.models import CoverBand, Plan
from members.selectors import plan_rules_at
from mutual.core.errors import ServiceError
from tests.billing_data import active, bulk_approved_claims, bulk_memberships
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
CREATED = datetime.datetime(2018, 6, 1, tzinfo=UTC)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def ten_percent_plan():
    with time_machine.travel(CREATED, tick=False):
        return PlanFactory(management_fee_bp=1000)


def change_fee(plan, *, fee_bp, by, now, effective_at=None) -> Plan:
    plan = Plan.objects.get(pk=plan.pk)
    plan.management_fee_bp = fee_bp
    return plan_rules.plan_save(plan=plan, by=by, now=now, effective_at=effective_at)


def period_with_cases(plan, *, starts_at, cutoff_at, people) -> ApportionmentPeriod:
    """Two cases decided the day before the cutoff: 123.45 and 9.99 yuan."""
    bulk_approved_claims(
        plan,
        people[0],
        [(cutoff_at - 5 * DAY, 12_345), (cutoff_at - 4 * DAY, 999)],
        decided_at=cutoff_at - DAY,
    )
    return ApportionmentPeriod.objects.create(plan=plan, starts_at=starts_at, cutoff_at=cutoff_at)


def test_only_configuration_tables_keep_a_history():
    assert set(registered_models.values()) == {Plan, CoverBand, Condition}
    assert not hasattr(Bill, "history")


def test_a_change_records_who_when_old_and_new_values_and_from_when(ten_percent_plan, admin_user):
    changed_at = datetime.datetime(2019, 3, 20, 9, 30, tzinfo=UTC)
    change_fee(ten_percent_plan, fee_bp=800, by=admin_user, now=changed_at)

    created, changed = ten_percent_plan.history.order_by("history_id")
    assert (created.history_type, created.management_fee_bp, created.effective_at) == (
        "+",
        1000,
        CREATED,
    )
    assert changed.history_type == "~"
    assert changed.history_user == admin_user
    assert changed.history_date == changed.effective_at == changed_at
    delta = changed.diff_against(created)
    assert [(c.field, c.old, c.new) for c in delta.changes] == [("management_fee_bp", 1000, 800)]


def test_a_fee_change_mid_year_bills_the_next_period_at_8_and_the_last_at_10_percent(
    ten_percent_plan, admin_user
):
    """Both periods run after the change (the first one late): each is billed with the fee in
    force at its own cutoff, not with the plan's fee on the day it runs."""
    plan = ten_percent_plan
    people = bulk_memberships(plan, [active(datetime.datetime(2018, 12, 1, tzinfo=UTC))] * 30)
    march_16 = datetime.datetime(2019, 3, 16, tzinfo=UTC)
    april_1 = datetime.datetime(2019, 4, 1, tzinfo=UTC)
    last = period_with_cases(plan, starts_at=march_16 - 15 * DAY, cutoff_at=march_16, people=people)
    next_ = period_with_cases(plan, starts_at=march_16, cutoff_at=april_1, people=people)

    change_fee(plan, fee_bp=800, by=admin_user, now=march_16 + 4 * DAY)  # in force 20 March
    assert Plan.objects.get(pk=plan.pk).management_fee_bp == 800

    last = steps.period_run_inline(period_id=last.pk, now=april_1 + DAY)
    next_ = steps.period_run_inline(period_id=next_.pk, now=april_1 + DAY)
    assert last.management_fee_bp == 1000
    assert last.fee_total_fen == 1235 + 100  # 10% of 123.45 and of 9.99, half up
    assert next_.management_fee_bp == 800
    assert next_.fee_total_fen == 988 + 80  # 8%
    for period in (last, next_):
        assert sum(period.bills.values_list("gross_fen", flat=True)) == period.total_fen
        assert period.total_fen == 12_345 + 999 + period.fee_total_fen


def test_a_change_entered_late_applies_from_its_effective_date(ten_percent_plan, admin_user):
    plan = ten_percent_plan
    people = bulk_memberships(plan, [active(datetime.datetime(2018, 12, 1, tzinfo=UTC))] * 30)
    march_16 = datetime.datetime(2019, 3, 16, tzinfo=UTC)
    period = period_with_cases(
        plan, starts_at=march_16 - 15 * DAY, cutoff_at=march_16, people=people
    )
    entered, in_force = march_16 + 4 * DAY, march_16 - 6 * DAY  # entered after the cutoff
    change_fee(plan, fee_bp=800, by=admin_user, now=entered, effective_at=in_force)

    assert plan_rules_at(plan=plan, at=in_force - DAY).management_fee_bp == 1000
    assert plan_rules_at(plan=plan, at=in_force).management_fee_bp == 800
    period = steps.period_run_inline(period_id=period.pk, now=entered)
    assert (period.management_fee_bp, period.fee_total_fen) == (800, 988 + 80)

    # That period is billed now: its rules can no longer change underneath it.
    with pytest.raises(ServiceError, match="already billed") as refused:
        change_fee(plan, fee_bp=700, by=admin_user, now=entered + DAY, effective_at=march_16)
    assert refused.value.code == "period_billed"
    change_fee(plan, fee_bp=700, by=admin_user, now=entered + DAY, effective_at=march_16 + DAY)
    assert plan_rules_at(plan=plan, at=march_16 + DAY).management_fee_bp == 700


def test_a_change_cannot_take_effect_in_the_future_or_before_the_last_change(
    ten_percent_plan, admin_user
):
    now = datetime.datetime(2019, 3, 20, tzinfo=UTC)
    with pytest.raises(ServiceError) as refused:
        change_fee(ten_percent_plan, fee_bp=800, by=admin_user, now=now, effective_at=now + DAY)
    assert refused.value.code == "effective_in_future"
    change_fee(ten_percent_plan, fee_bp=800, by=admin_user, now=now)
    with pytest.raises(ServiceError) as refused:
        change_fee(ten_percent_plan, fee_bp=900, by=admin_user, now=now, effective_at=now - DAY)
    assert refused.value.code == "effective_before_last_change"
    assert ten_percent_plan.history.count() == 2  # nothing recorded for the refusals
    assert Plan.objects.get(pk=ten_percent_plan.pk).management_fee_bp == 800


def test_staff_without_the_plan_permission_cannot_change_rules(ten_percent_plan, finance):
    with pytest.raises(PermissionDenied):
        change_fee(ten_percent_plan, fee_bp=800, by=finance, now=CREATED + DAY)
    assert ten_percent_plan.history.count() == 1


def test_rules_before_a_plan_was_entered_are_its_first_rules(ten_percent_plan, admin_user):
    change_fee(ten_percent_plan, fee_bp=800, by=admin_user, now=CREATED + DAY)
    before = plan_rules_at(plan=ten_percent_plan, at=CREATED - 365 * DAY)
    assert (before.management_fee_bp, before.effective_at) == (1000, None)
    assert before.cutoff_days == (1, 16)


def plan_form(plan, **changes) -> dict:
    data = {
        "code": plan.code,
        "name": plan.name,
        "accepting_members": "on",
        "min_credit_score": plan.min_credit_score,
        "min_age_days": plan.min_age_days,
        "min_age_years": plan.min_age_years,
        "max_age_years": plan.max_age_years,
        "illness_waiting_days": plan.illness_waiting_days,
        "accident_waiting_days": plan.accident_waiting_days,
        "management_fee_bp": plan.management_fee_bp,
        "per_case_cap_fen": plan.per_case_cap_fen,
        "yearly_cap_fen": plan.yearly_cap_fen,
        "cutoff_days": ",".join(map(str, plan.cutoff_days)),
        "payout_delay_days": plan.payout_delay_days,
        "publicity_days": plan.publicity_days,
        "dispute_review": plan.dispute_review,
        "jury_size": plan.jury_size,
        "jury_quorum": plan.jury_quorum,
        "payment_grace_days": plan.payment_grace_days,
        "effective_at_0": "",
        "effective_at_1": "",
    }
    bands = list(plan.cover_bands.order_by("max_age_years"))
    data |= {
        "cover_bands-TOTAL_FORMS": len(bands),
        "cover_bands-INITIAL_FORMS": len(bands),
        "cover_bands-MIN_NUM_FORMS": 0,
        "cover_bands-MAX_NUM_FORMS": 1000,
    }
    for i, band in enumerate(bands):
        data |= {
            f"cover_bands-{i}-id": band.pk,
            f"cover_bands-{i}-plan": plan.pk,
            f"cover_bands-{i}-max_age_years": band.max_age_years,
            f"cover_bands-{i}-cover_fen": band.cover_fen,
        }
    return data | changes


def test_the_admin_changes_a_fee_with_its_date_and_shows_the_history(
    admin_client, admin_user, ten_percent_plan
):
    plan = ten_percent_plan
    change = reverse("admin:members_plan_change", args=[plan.pk])
    backdated = {"effective_at_0": "2017-01-01", "effective_at_1": "00:00"}
    refused = admin_client.post(change, plan_form(plan, management_fee_bp=800, **backdated))
    assert refused.status_code == 200  # the form again, with the reason
    assert "before that" in str(refused.context["adminform"].form.errors["effective_at"])
    assert plan.history.count() == 1

    in_force = {"effective_at_0": "2019-03-10", "effective_at_1": "00:00"}
    response = admin_client.post(change, plan_form(plan, management_fee_bp=800, **in_force))
    assert response.status_code == 302, response.context and response.context["errors"]
    latest = plan.history.order_by("-history_id").first()
    assert (latest.management_fee_bp, latest.history_user) == (800, admin_user)
    assert latest.effective_at == datetime.datetime(2019, 3, 9, 16, 0, tzinfo=UTC)  # Shanghai

    history = admin_client.get(reverse("admin:members_plan_history", args=[plan.pk]))
    assert history.status_code == 200
    page = history.content.decode()
    assert admin_user.username in page
    assert "1000" in page and "800" in page  # old and new


def test_staff_who_may_only_view_plans_see_them_read_only(client, reviewer, ten_percent_plan):
    client.force_login(reviewer)
    page = client.get(reverse("admin:members_plan_change", args=[ten_percent_plan.pk]))
    assert page.status_code == 200
    assert "effective_at" not in page.content.decode()
