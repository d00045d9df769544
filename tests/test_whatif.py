"""What-if and forecast (issue 12, item 5): billing/whatif.py runs billing/rules/ on cases
not billed yet. The public cases and period reports show the next period's estimate; finance
has a what-if page in the admin."""

import datetime
from fractions import Fraction

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from billing import rules, whatif
from mutual.core.errors import ServiceError
from tests.claim_steps import to_publicized
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)
URL = "/admin/billing/apportionmentperiod/what-if/"


@pytest.fixture
def plan():
    return PlanFactory(management_fee_bp=800, per_case_cap_fen=10, yearly_cap_fen=18_800)


def test_what_if_shares_caps_and_the_sponsor(plan):
    outcome = whatif.what_if(plan=plan, amounts_fen=[100_000_00, 3_00], members=1000, now=NOW)
    assert outcome.total_fen == 108_000_00 + 3_24
    assert outcome.share_fen == Fraction(108_000_00, 1000) + Fraction(3_24, 1000)
    assert outcome.after_case_cap_fen == 10 + Fraction(324, 1000)  # the big case is capped
    assert outcome.charged_fen == outcome.after_case_cap_fen
    assert outcome.sponsor_fen == outcome.total_fen - 1000 * outcome.charged_fen
    nearly_capped = whatif.what_if(
        plan=plan, amounts_fen=[100_000_00], members=1000, year_to_date_fen=18_795, now=NOW
    )
    assert nearly_capped.charged_fen == 5 and nearly_capped.yearly_cap_effect_fen == 5
    with pytest.raises(ServiceError) as error:
        whatif.what_if(plan=plan, amounts_fen=[], members=10, now=NOW)
    assert error.value.field == "amounts"


def test_the_public_reports_estimate_the_next_period_from_the_cases_in_publicity(
    plan, investigator
):
    early = MembershipFactory.create_batch(4, plan=plan)
    first = to_publicized(ClaimFactory(membership=early[0]), investigator=investigator, now=NOW)
    late = MembershipFactory(plan=plan, in_pool_since=NOW + datetime.timedelta(hours=1))
    later = NOW + datetime.timedelta(hours=2)
    second = to_publicized(ClaimFactory(membership=late), investigator=investigator, now=later)
    answer = APIClient().get("/api/public/cases/")
    assert answer.status_code == 200
    [estimate] = answer.json()["next_period_estimates"]
    totals = [
        c.amount_approved_fen + rules.fee_for(c.amount_approved_fen, 800) for c in (first, second)
    ]
    exact = Fraction(totals[0], 4) + Fraction(totals[1], 5)  # the late member shares the 2nd
    assert estimate["plan"] == plan.code and estimate["cases"] == 2 and estimate["sharers"] == 5
    assert Fraction(estimate["share_fen"]) == Fraction(int(exact * 10**6), 10**6)
    assert Fraction(estimate["after_per_case_cap_fen"]) == 20  # both cases capped at 0.10
    page = APIClient().get("/public/cases/").content.decode()
    assert "what-if" not in page and estimate["plan"] in page


def test_finance_computes_a_what_if_in_the_admin(client, finance, plan):
    client.force_login(finance)
    assert client.get(URL).status_code == 200
    page = client.post(
        URL, {"plan": plan.pk, "amounts": "100000.00, 3.00\n50", "members": "1000"}
    ).content.decode()
    assert 'id="what-if-figures"' in page and "0.15724" in page  # 10 + 0.324 + 5.4 fen, in yuan
    assert "000000" not in page.split('id="what-if-figures"')[1]  # no run of zeros
    assert reverse("admin:billing_what_if") == URL


@pytest.mark.parametrize(
    "data",
    [
        {"amounts": "abc", "members": "10"},
        {"amounts": "1.234", "members": "10"},
        {"amounts": "-5", "members": "10"},
        {"amounts": "", "members": "10"},
        {"amounts": "100", "members": "0"},
        {"amounts": "100", "members": "ten"},
        {"amounts": "100", "members": "10", "year_to_date": "NaN"},
        {"amounts": "1e400", "members": "10"},
        {"amounts": "100 " * 1001, "members": "10"},
        {"amounts": "100\x00", "members": "10"},
    ],
)
def test_bad_input_is_a_form_error_not_a_500(client, finance, plan, data):
    client.force_login(finance)
    answer = client.post(URL, {"plan": plan.pk, **data})
    assert answer.status_code == 200
    assert "errorlist" in answer.content.decode()
    assert 'id="what-if-figures"' not in answer.content.decode()


def test_only_finance_sees_the_what_if(client, investigator):
    client.force_login(investigator)
    assert client.get(URL).status_code == 403


def test_the_public_estimate_counts_the_pool_once_a_minute(
    plan, investigator, django_assert_num_queries
):
    """Found in review: the no-login pages counted the whole pool once per case in publicity
    on every hit."""
    early = MembershipFactory.create_batch(3, plan=plan)
    for member in early[:2]:
        to_publicized(ClaimFactory(membership=member), investigator=investigator, now=NOW)
    first = whatif.plan_forecast(plan=plan, now=NOW)
    with django_assert_num_queries(1):  # the cases in publicity; the counts are kept
        again = whatif.plan_forecast(plan=plan, now=NOW)
    assert again == first
