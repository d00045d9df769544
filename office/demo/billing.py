"""The demo's history: the plan's last three periods posted through the real services, each at
its moment (`now=`), so that finance's pages, the bills, the ledger and the dashboard are not
empty on `make run`.

- The seed's case, public from the 7th to the 10th, is billed and paid on the 14th, as Xiang Hu
  Bao's was (the plan closes on the 14th and 28th, and pays the same day).
- A launch promotion: members who joined long ago pay nothing for the cases of the first two
  periods; the sponsor covers them.
- The per-case cap (0.10 yuan) bites for every other sharer: a demo has thousands of members,
  not millions.
- Collections debit every bill the day it is posted; one member's card is declined, declined
  again the next day, and the membership lapses when the plan's grace period is over.

Idempotent: does nothing once the seed's case exists. Reproducible: the moments follow the
plan's calendar back from `now`, and the people are the first by id."""

from __future__ import annotations

import datetime

from django.db import transaction

from billing import debits, payouts
from billing.models import ApportionmentPeriod, Promotion
from billing.schedule import period_for
from billing.steps import period_run_inline
from claims.models import Claim
from members.models import Membership, MembershipStatus, Plan
from mutual.core.timezones import local_date
from office.demo.claims import SEED_HOSPITAL, approved_case, seed_case
from office.demo.members import NEW_PLAN
from office.demo_users import ensure_demo_sharer, ensure_demo_users

PERIODS = 3
DAY, HOUR = datetime.timedelta(days=1), datetime.timedelta(hours=1)
STEP = datetime.timedelta(minutes=5)  # what beat would take to notice a moment
# Joined this long before the first period: past every waiting period, and in the promotion.
VETERAN = 120 * DAY

# The other cases, per period (oldest first): (kind, diagnosis, condition, yuan, days before
# the cutoff).
CASES = [
    [("illness", "Acute lymphoblastic leukaemia", "malignant-tumour-severe", 300_000, 9)],
    [("accident", "Paraplegia after a road accident", "paralysis", 80_000, 8)],
    [
        ("illness", "Breast cancer, stage II", "malignant-tumour-severe", 100_000, 10),
        ("accident", "Burns over 30% of the body", "third-degree-burns-severe", 45_000, 6),
    ],
]


class DemoGateway:
    """Debits everyone except one membership, whose card is always declined."""

    def __init__(self, declined_membership_id: int):
        self.declined = declined_membership_id

    def debit(
        self, *, account_id: int, membership_id: int, amount_fen: int, reference: str
    ) -> debits.DebitResult:
        if membership_id == self.declined:
            return debits.DebitResult(ok=False, error="declined: card expired")
        return debits.DebitResult(ok=True)


def _last_periods(plan: Plan, now: datetime.datetime) -> list[ApportionmentPeriod]:
    """The plan's last `PERIODS` periods whose cutoff has passed, oldest first."""
    periods = [period_for(plan, now=now)]  # the one holding `now`: not over yet
    while len(periods) <= PERIODS:
        periods.insert(0, period_for(plan, now=periods[0].starts_at - STEP))
    return periods[:-1]


def _collect(period: ApportionmentPeriod, gateway, *, now: datetime.datetime) -> None:
    for chunk_id in period.chunks.order_by("index").values_list("pk", flat=True):
        debits.collect_chunk(chunk_id=chunk_id, now=now, gateway=gateway)


def _members(plan: Plan, *, joined_before, joined_after=None, count: int) -> list[Membership]:
    found = Membership.objects.filter(
        plan=plan, status=MembershipStatus.ACTIVE, joined_at__lt=joined_before
    )
    if joined_after is not None:
        found = found.filter(joined_at__gt=joined_after)
    return list(found.select_related("member__user").order_by("-pk")[:count])


@transaction.atomic
def seed_demo_periods(*, now: datetime.datetime) -> int:
    """Post the demo's periods (see the module). Returns how many were posted."""
    if Claim.objects.filter(hospital=SEED_HOSPITAL).exists():
        return 0
    plan = Plan.objects.get(code=NEW_PLAN)
    periods = _last_periods(plan, now)
    first = periods[0].starts_at
    claimants = _members(plan, joined_before=first - VETERAN, count=sum(map(len, CASES)))
    # The declined card: someone the promotion does not cover, so their bills are not zero.
    declined = _members(plan, joined_before=first - STEP, joined_after=first - VETERAN, count=1)
    if len(claimants) < sum(map(len, CASES)) or not declined:
        return 0  # too few members for a history
    ensure_demo_sharer(plan=plan, joined_at=first - VETERAN - DAY)
    staff = ensure_demo_users()
    Promotion.objects.get_or_create(
        plan=plan,
        name="Launch promotion: the first two periods' cases are on us",
        defaults={"joined_before": first - VETERAN, "cases_before": periods[1].cutoff_at},
    )
    gateway = DemoGateway(declined[0].pk)
    oldest, grace = periods[0], plan.payment_grace_days * DAY
    # What happens after the oldest period is posted, each when its moment comes: the declined
    # card is tried again a day later; once the grace is over, the membership lapses (and so
    # shares no case of a period whose cutoff is later).
    later = [
        (oldest.cutoff_at + DAY + HOUR, lambda at: _collect(oldest, gateway, now=at)),
        (
            oldest.cutoff_at + grace + HOUR,
            lambda at: debits.lapse_unpaid(period_id=oldest.pk, now=at),
        ),
    ]
    seed_period = [p for p in periods if local_date(p.cutoff_at).day == 14][-1]
    for period, cases in zip(periods, CASES, strict=True):
        cutoff = period.cutoff_at
        while later and later[0][0] < cutoff:
            moment, step = later.pop(0)
            step(moment)
        if period == seed_period:  # public from the 7th, 10:00, to the 10th; paid the 14th
            seed_case(plan=plan, staff=staff, publicized_at=cutoff - (7 * DAY - 10 * HOUR))
        for kind, diagnosis, condition, yuan, days in cases:
            claimant = claimants.pop()
            approved_case(
                membership=claimant,
                staff=staff,
                publicized_at=cutoff - (days * DAY - 11 * HOUR),
                kind=kind,
                diagnosis=diagnosis,
                condition=condition,
                amount=yuan * 100,  # cut to the cover for the claimant's age
            )
        posted_at = min(cutoff + STEP, now)  # no payout delay: billed and paid on the cutoff
        period_run_inline(period_id=period.pk, now=posted_at)
        payouts.period_pay_claims(period_id=period.pk, now=posted_at)
        _collect(period, gateway, now=min(cutoff + HOUR, now))
    for moment, step in later:
        step(moment)
    return len(periods)
