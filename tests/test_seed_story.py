"""The seed's story as it really happened (issue 19): a mother with a credit score of 700 covers
herself and her 5-year-old daughter, who has no score, in Mutual Treasure in November 2018. The
daughter's accident (a craniotomy, 300,000 yuan) is investigated, publicized from 7 to 10
December, approved, and paid on 14 December. The mother's account carries both bills, and the
sponsor pays 324,000 yuan (the payout and the 8% fee) under the promotion for members who
joined before 31 December 2018."""

import datetime
import zoneinfo

import pytest
import time_machine
from rest_framework.test import APIClient

from billing import payouts
from billing.models import ApportionmentPeriod, Bill, Promotion
from billing.steps import period_run_inline
from claims import services as claims
from claims.catalogue import catalogue_load_standard
from claims.models import ClaimState
from members import services as members
from members.households import dependant_add
from members.models import CoverBand, Plan
from tests.claim_steps import after_window, to_publicized
from tests.conftest import FixedCreditScores
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int = 10, year: int = 2018) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, tzinfo=SHANGHAI)


class OnlyTheMother(FixedCreditScores):
    """A credit bureau that knows the mother only: asking for the girl's score is a bug."""

    def __init__(self, mother_id: str):
        super().__init__(700)
        self.mother_id = mother_id

    def score(self, *, national_id: str) -> int:
        assert national_id == self.mother_id, "only the account holder is credit-scored"
        return super().score(national_id=national_id)


@pytest.fixture
def treasure():
    plan = Plan.objects.create(
        code="mutual-treasure", name="Mutual Treasure", cutoff_days=[14, 28], payout_delay_days=0
    )
    CoverBand.objects.create(plan=plan, max_age_years=39, cover_fen=300_000_00)
    CoverBand.objects.create(plan=plan, max_age_years=59, cover_fen=100_000_00)
    catalogue_load_standard(plan=plan, since=datetime.date(2018, 10, 16), real_plan_changes=True)
    # "users who join before 31 December 2018: the sharing before 31 January 2019 is borne by
    # Ant Financial".
    Promotion.objects.create(
        plan=plan,
        name="Launch promotion",
        joined_before=at(12, 31, 0),
        cases_before=at(1, 31, 0, year=2019),
    )
    return plan


def test_the_seed_case_as_it_happened(treasure, investigator, reviewer):
    live_the_seed_case(treasure, investigator)


def live_the_seed_case(treasure, investigator):
    """The seed's case from the mother's joining to the girl's payout, asserting as it goes;
    also the life that tests/test_personal_data_logs.py reads the logs of."""
    mother = MemberFactory(full_name="Mother", birth_date=datetime.date(1988, 3, 2))
    bureau = OnlyTheMother(mother.national_id)
    with time_machine.travel(at(11, 10), tick=False):
        own = members.membership_join(
            member_id=mother.pk, plan_id=treasure.pk, by=mother.user, now=at(11, 10),
            credit_provider=bureau,
        )  # fmt: skip
        girl = dependant_add(
            by=mother.user, full_name="Daughter", national_id="310101201307150027",
            birth_date=datetime.date(2013, 7, 15), relationship="child", guardian_consent=True,
            now=at(11, 10),
        )  # fmt: skip
        hers = members.membership_join(
            member_id=girl.pk, plan_id=treasure.pk, by=mother.user, now=at(11, 10, 11),
            credit_provider=bureau,
        )  # fmt: skip
    assert girl.user_id is None and girl.guardian_consent_by == mother.user
    assert hers.cover_fen == 300_000_00  # 5 years old: the band up to 39

    # An accident on 18 November, inside the 90 days' illness wait: covered at once. The
    # mother files the claim for her daughter.
    with time_machine.travel(at(12, 1), tick=False):
        claim = claims.claim_submit(
            membership_id=hers.pk, by=mother.user, now=at(12, 1), incident_kind="accident",
            incident_date=datetime.date(2018, 11, 18), diagnosis_date=datetime.date(2018, 11, 18),
            diagnosis="Craniotomy after an accidental fall",
            hospital="Xinhua Hospital, Shanghai Jiao Tong University School of Medicine",
            amount_requested_fen=300_000_00, condition="brain-injury-severe",
        )  # fmt: skip
    assert (claim.submitted_by, claim.membership.member) == (mother.user, girl)
    assert claim.cover_fen == 300_000_00
    claim = to_publicized(claim, investigator=investigator, now=at(12, 7))
    assert claim.publicity_ends_at == at(12, 10)
    claims.claims_close_due_windows(now=after_window(claim))
    claim.refresh_from_db()
    assert claim.state == ClaimState.APPROVED

    period = ApportionmentPeriod.objects.create(
        plan=treasure, starts_at=at(11, 28, 0), cutoff_at=at(12, 14, 0)
    )
    period = period_run_inline(period_id=period.pk, now=at(12, 14, 0))
    payouts.period_pay_claims(period_id=period.pk, now=at(12, 14, 0))
    claim.refresh_from_db()
    period.refresh_from_db()
    assert claim.state == ClaimState.PAID and claim.paid_at == at(12, 14, 0)
    assert period.total_fen == 324_000_00  # 300,000 and the 8% fee
    assert period.sponsor_fen == 324_000_00 and period.charged_fen == 0

    # The mother's account carries both bills, each saying whom it is for.
    bills = Bill.objects.filter(period=period)
    assert {b.membership_id for b in bills} == {own.pk, hers.pk}
    api = APIClient()
    api.force_authenticate(mother.user)
    listed = api.get("/api/me/bills/").json()["results"]
    assert [(b["person"]["full_name"], b["person"]["relationship"]) for b in listed] == [
        ("Mother", "self"),
        ("Daughter", "child"),
    ]
    assert all(b["waived_fen"] == b["gross_fen"] == 162_000_00 for b in listed)
    hers_bill = api.get(f"/api/me/bills/{period.pk}/?membership={hers.pk}").json()
    assert hers_bill["person"]["full_name"] == "Daughter" and hers_bill["charged_fen"] == 0
    # The public report names the condition, never the girl.
    report = APIClient().get(f"/api/public/periods/{period.pk}/").json()
    (case,) = report["cases"]
    assert case["condition"]["name_en"] == "Severe brain injury" and case["age_band"] == "0-9"
    assert "Daughter" not in str(report) and report["sharers"] == 2
    return mother, girl, claim, period
