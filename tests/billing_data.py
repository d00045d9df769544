"""Bulk builders for billing tests: many memberships and approved claims in a few statements,
where factories would take a query or more per row."""

from __future__ import annotations

import datetime
import itertools

from django.contrib.auth.models import User

from billing.models import ApportionmentPeriod, Bill, PeriodStatus
from members.models import Member, Membership, MembershipStatus, Plan
from office import bench_workload as bench

_serial = itertools.count(1)


def bulk_memberships(
    plan: Plan,
    rows: list[tuple[datetime.datetime, datetime.datetime, str, datetime.datetime | None]],
) -> list[Membership]:
    """rows: (joined_at, in_pool_since, status, ended_at); ids ascend in the rows' order."""
    tag = next(_serial)
    users = User.objects.bulk_create(
        User(username=f"bulk{plan.pk}-{tag}-{i}", password="!") for i in range(len(rows))
    )
    people = Member.objects.bulk_create(
        Member(
            user=user,
            full_name="Bulk member",
            national_id=f"B{plan.pk}-{tag}-{i}",
            birth_date=datetime.date(1990, 1, 1),
        )
        for i, user in enumerate(users)
    )
    return Membership.objects.bulk_create(
        Membership(
            member=person,
            plan=plan,
            status=status,
            joined_at=joined,
            in_pool_since=in_pool,
            waiting_until=joined,
            cover_fen=300_000_00,
            ended_at=ended,
        )
        for person, (joined, in_pool, status, ended) in zip(people, rows, strict=True)
    )


def active(joined: datetime.datetime, in_pool: datetime.datetime | None = None):
    return (joined, in_pool or joined, MembershipStatus.ACTIVE, None)


bulk_approved_claims = bench.approved_claims


def posted_period_with_bills(
    plan: Plan, *, cutoff_at: datetime.datetime, charged: dict[int, int]
) -> ApportionmentPeriod:
    """An earlier period, posted, whose bills say what each membership paid (year to date)."""
    from billing.partitions import bills_partition_create

    period = ApportionmentPeriod.objects.create(
        plan=plan,
        starts_at=cutoff_at - datetime.timedelta(days=15),
        cutoff_at=cutoff_at,
        status=PeriodStatus.POSTED,
        posted_at=cutoff_at,
        members_count=len(charged),
    )
    bills_partition_create(period.pk)
    Bill.objects.bulk_create(
        Bill(
            period=period,
            membership_id=membership_id,
            cases_count=1,
            gross_fen=amount,
            waived_fen=0,
            capped_fen=0,
            charged_fen=amount,
            year_to_date_before_fen=0,
        )
        for membership_id, amount in charged.items()
    )
    return period
