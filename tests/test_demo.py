import datetime

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.core.management import call_command

from billing.ledger import ledger_verify
from billing.models import FINISHED, ApportionmentPeriod, Bill
from billing.schedule import period_for
from claims.models import Claim, ClaimState
from members.models import Member, Membership, MembershipStatus, Plan
from mutual.core.timezones import local_date, local_midnight
from office.demo.members import ensure_demo_plans

pytestmark = pytest.mark.django_db


def test_seed_demo_is_reproducible_idempotent_and_has_claims_in_every_state():
    call_command("seed_demo", "--members", "300", "--seed", "7")
    first = list(Member.objects.order_by("pk").values_list("national_id", "birth_date"))
    call_command("seed_demo", "--members", "300", "--seed", "7")
    people = list(Member.objects.order_by("pk").values_list("national_id", "birth_date"))
    assert people == first  # the ids read back from their encryption
    assert sum(national_id.startswith("D7-") for national_id, _ in people) == 300
    assert set(Claim.objects.values_list("state", flat=True)) == set(ClaimState.values)
    seed_case = Claim.objects.get(hospital__startswith="Xinhua")
    assert seed_case.state == ClaimState.PAID and seed_case.evidence.count() == 4
    assert Claim.objects.filter(hospital__startswith="Huashan", state="publicized").exists()
    assert Membership.objects.filter(plan__code="mutual-protection").exists()


def test_the_demo_treasure_plan_pays_the_seed_case_on_the_14th_like_xiang_hu_bao():
    _, treasure = ensure_demo_plans()
    assert treasure.cutoff_days == [14, 28] and treasure.payout_delay_days == 0
    # The seed's case was public from 7 to 10 December 2018, approved when the window closed.
    approved = local_midnight(datetime.date(2018, 12, 10)) + datetime.timedelta(hours=10)
    period = period_for(treasure, now=approved)
    assert local_date(period.starts_at) == datetime.date(2018, 11, 28)
    assert local_date(period.cutoff_at) == datetime.date(2018, 12, 14)
    assert period.runs_at == period.cutoff_at  # billed and paid on the 14th


def test_seed_demo_refuses_a_negative_count():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("seed_demo", "--members", "-1")


def test_demo_admin_prints_working_logins(capsys, rf):
    call_command("demo_admin")
    out = capsys.readouterr().out
    assert "admin" in out and "mutual-demo" in out
    # django-axes counts every login against its request's address: authenticate needs one.
    user = authenticate(rf.post("/admin/login/"), username="reviewer", password="mutual-demo")
    assert user is not None and user.has_perm("claims.decide_claim")
    member = authenticate(rf.post("/api/auth/token/"), username="member", password="mutual-demo")
    assert member.member.national_id == "DEMO-MEMBER" and not member.member.memberships.exists()


@pytest.mark.parametrize("members", [200, 2000])
def test_seed_demo_claims_only_for_members_who_had_joined_before_the_event(members):
    """`make run DEMO_MEMBERS=200` failed: the first members by id had joined days ago, after
    the demo claims' events."""
    call_command("seed_demo", "--members", str(members), "--seed", "1")
    assert set(Claim.objects.values_list("state", flat=True)) == set(ClaimState.values)


@pytest.mark.parametrize("members", [200, 2000])
def test_seed_demo_posts_periods_with_the_seed_case_paid_on_the_14th(members):
    """A newcomer sees a whole office: posted periods with bills, a promotion, caps,
    collections and a lapse, all made by the real services at their moments."""
    call_command("seed_demo", "--members", str(members), "--seed", "1")
    periods = list(
        ApportionmentPeriod.objects.filter(plan__code="mutual-treasure", status__in=FINISHED)
    )
    assert len(periods) >= 2
    for period in periods:
        assert period.charged_fen + period.sponsor_fen == period.total_fen > 0
        assert period.merkle_root and period.members_count > 0
    seed_case = Claim.objects.get(hospital__startswith="Xinhua")
    seed_period = seed_case.period_case.period
    assert seed_case.state == ClaimState.PAID and seed_period in periods
    assert local_date(seed_period.cutoff_at).day == 14
    assert local_date(seed_case.paid_at) == local_date(seed_period.cutoff_at)
    assert local_date(seed_case.publicity_starts_at).day == 7
    bills = Bill.objects.filter(period__in=periods)
    assert bills.filter(waived_fen__gt=0).exists() and bills.filter(charged_fen__gt=0).exists()
    assert bills.filter(capped_fen__gt=0).exists()
    assert bills.filter(paid_at__isnull=False).exists()
    declined = bills.exclude(last_debit_error="").get(debit_attempts=2)
    assert declined.paid_at is None
    lapsed = declined.membership
    assert lapsed.status == MembershipStatus.LAPSED
    # Lapsed before a later cutoff: billed there only for the cases noticed while covered.
    for later in lapsed.bills.filter(period__cutoff_at__gt=lapsed.ended_at):
        noticed = later.period.cases.filter(publicized_at__lt=lapsed.ended_at).count()
        assert later.cases_count == noticed
    assert ledger_verify() == []
    # The seed's girl is covered by her mother, who filed the claim and carries both bills.
    girl = seed_case.membership.member
    mother = girl.payer
    assert girl.user is None and girl.relationship == "child" and mother.user is not None
    assert seed_case.submitted_by == mother.user
    assert seed_case.condition.code == "brain-injury-severe"
    household_bills = Bill.objects.filter(
        period=seed_period, membership__member__in=[mother, girl]
    ).count()
    assert household_bills == 2
    # The plan for 60 to 70 year olds, where members move at 60, and the illness lists.
    treasure = Plan.objects.get(code="mutual-treasure")
    assert treasure.age_successor.code == "mutual-senior"
    assert treasure.conditions.count() == 31 + 2 + 5
    assert treasure.age_successor.conditions.get().code == "malignant-tumour-severe"
    # Again: nothing new.
    call_command("seed_demo", "--members", str(members), "--seed", "1")
    assert ApportionmentPeriod.objects.filter(status__in=FINISHED).count() == len(periods)


@pytest.mark.parametrize(
    "moment",
    [
        "2027-01-03T09:00:00+08:00",  # the periods straddle a new year
        "2027-03-14T00:02:00+08:00",  # two minutes after a cutoff
        "2027-03-28T12:00:00+08:00",
    ],
)
def test_seed_demo_history_works_whatever_the_day(moment):
    with time_machine.travel(datetime.datetime.fromisoformat(moment), tick=False):
        call_command("seed_demo", "--members", "200", "--seed", "1")
    seed_case = Claim.objects.get(hospital__startswith="Xinhua")
    assert seed_case.state == ClaimState.PAID
    assert local_date(seed_case.paid_at).day == 14
    finished = ApportionmentPeriod.objects.filter(status__in=FINISHED)
    assert finished.count() == 3 and ledger_verify() == []
    assert Membership.objects.filter(bills__debit_attempts=2, status="lapsed").exists()


def test_bench_admin_writes_the_desk_workload_and_times_every_desk_page(capsys):
    """The benchmark's own workload stays valid (its SQL meets every constraint) and every page
    it times answers 200 (the figures of record are in the README, at 1,000,000 claims)."""
    import json

    from tests.factories import UserFactory

    call_command("seed_demo", "--members", "300", "--seed", "3", "--no-claims")
    UserFactory(username="bench-admin", is_staff=True, is_superuser=True)
    capsys.readouterr()
    call_command("bench_admin", "--claims", "6000", "--repeat", "1")
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["claims_in_database"] >= 5000
    pages = {
        name: row for name, row in figures.items() if isinstance(row, dict) and "status" in row
    }
    refused = {n: r["status"] for n, r in pages.items() if r["status"] != 200}
    assert refused == {"memberships, page 1000": 302}  # 300 members have no page 1000
    assert figures["desk figures (dashboard panel)"]["queries"] <= 10
    from claims.models import ClaimAudit, InfoRequest

    assert InfoRequest.objects.exists() and ClaimAudit.objects.exists()
    assert figures["claims_setup"]["spans_written"] > 0


def test_the_demo_sharer_has_posted_bills_and_prints_its_login(capsys, rf):
    """Issue 25: the demo's only member login had no bills, so the README's journey showed
    nothing at its bills step. `sharer` has been a member since before the demo's periods."""
    from billing.models import Bill

    call_command("seed_demo", "--members", "200", "--seed", "1")
    call_command("demo_admin")
    assert "sharer" in capsys.readouterr().out
    user = authenticate(rf.post("/api/auth/token/"), username="sharer", password="mutual-demo")
    bills = Bill.objects.filter(membership__member=user.member)
    assert bills.count() == 3 and bills.filter(charged_fen__gt=0).exists()
