"""Demo claims in every state, made through the real services at chosen moments, with the
seed's case (a 5-year-old girl's accident, a craniotomy) in its public window."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from claims import disputes, evidence, services
from claims.models import Claim
from members.demo import NEW_PLAN
from members.models import Member, Membership, MembershipStatus, Plan
from office.demo_users import ensure_demo_users

SEED_HOSPITAL = "Xinhua Hospital, Shanghai Jiao Tong University School of Medicine"


def _pdf(title: str) -> SimpleUploadedFile:
    body = f"%PDF-1.4\n% {title}\n".encode()
    return SimpleUploadedFile(f"{title}.pdf", body, content_type="application/pdf")


def _seed_girl(plan: Plan, now: datetime.datetime) -> Membership:
    user, _ = get_user_model().objects.get_or_create(username="demo-seed-girl")
    member, _ = Member.objects.get_or_create(
        user=user,
        defaults={
            "full_name": "Seed case girl (5)",
            "national_id": "DEMO-SEED-GIRL",
            "birth_date": (now - datetime.timedelta(days=5 * 365 + 40)).date(),
        },
    )
    joined = now - datetime.timedelta(days=25)  # still inside the illness waiting period
    membership, _ = Membership.objects.get_or_create(
        member=member,
        plan=plan,
        status=MembershipStatus.ACTIVE,
        defaults={
            "joined_at": joined,
            "in_pool_since": joined,
            "cover_fen": 300_000_00,
            "waiting_until": joined + datetime.timedelta(days=plan.illness_waiting_days),
        },
    )
    return membership


def _claim(membership, when, kind="accident", diagnosis="fracture after a fall", amount=None):
    day = (when - datetime.timedelta(days=3)).date()
    return services.claim_submit(
        membership_id=membership.pk,
        by=membership.member.user,
        now=when,
        incident_kind=kind,
        incident_date=day,
        diagnosis_date=day,
        diagnosis=diagnosis,
        hospital="Ruijin Hospital",
        amount_requested_fen=amount or membership.cover_fen,
    )


def _investigated(claim, staff, when, *, seed_documents=False):
    investigator = staff["investigator"]
    services.claim_start_investigation(
        claim_id=claim.pk, investigator_id=investigator.pk, by=staff["reviewer"], now=when
    )
    kinds = (
        ["medical_certificate", "discharge_summary", "surgical_record"] if seed_documents else []
    )
    for kind in [*kinds, "investigation_report"]:
        evidence.evidence_append(
            claim_id=claim.pk, kind=kind, upload=_pdf(kind), by=investigator, now=when
        )
    services.claim_record_investigation(
        claim_id=claim.pk,
        by=investigator,
        now=when,
        summary="Interviewed the member and family, confirmed the event, visited the hospital.",
    )
    return claim


@transaction.atomic
def seed_demo_claims(*, now: datetime.datetime, seed: int) -> int:
    """Idempotent: does nothing once the seed's case exists. Returns claims created."""
    if Claim.objects.filter(hospital=SEED_HOSPITAL).exists():
        return 0
    plan = Plan.objects.get(code=NEW_PLAN)
    staff = ensure_demo_users()
    # Members who had joined before every demo event (the oldest is 11 days ago): nobody may
    # claim for what happened before they joined.
    pool = list(
        Membership.objects.filter(
            plan=plan,
            status=MembershipStatus.ACTIVE,
            joined_at__lt=now - datetime.timedelta(days=30),
        )
        .select_related("member")
        .order_by("pk")[:12]
    )
    if len(pool) < 10:
        return 0
    ago = lambda days: now - datetime.timedelta(days=days)  # noqa: E731

    # The seed: an accident in the waiting period, investigated, public for three days.
    girl = _seed_girl(plan, now)
    seed_case = services.claim_submit(
        membership_id=girl.pk,
        by=girl.member.user,
        now=ago(2),
        incident_kind="accident",
        incident_date=ago(19).date(),
        diagnosis_date=ago(19).date(),
        diagnosis="Craniotomy after an accidental fall",
        hospital=SEED_HOSPITAL,
        amount_requested_fen=300_000_00,
    )
    _investigated(seed_case, staff, ago(1), seed_documents=True)
    services.claim_publicize(claim_id=seed_case.pk, by=staff["investigator"], now=ago(1))

    _claim(pool[0], ago(1))  # submitted
    _investigated(_claim(pool[1], ago(2)), staff, ago(1))  # investigating
    for index in (2, 3, 4):  # publicized 4 days ago, then closed by the window closer
        claim = _investigated(_claim(pool[index], ago(6), amount=50_000_00), staff, ago(5))
        services.claim_publicize(claim_id=claim.pk, by=staff["investigator"], now=ago(4))
    disputed = Claim.objects.get(membership=pool[4], plan=plan)
    disputes.dispute_raise(
        claim_id=disputed.pk,
        member_id=pool[9].member_id,
        now=ago(3),
        reason="The hospital record date looks inconsistent.",
    )
    services.claims_close_due_windows(now=ago(0))  # 2 approved, 1 disputed
    paid = Claim.objects.get(membership=pool[3], plan=plan)
    services.claim_mark_paid(claim_id=paid.pk, by=staff["finance"], now=now)
    rejected = _investigated(_claim(pool[5], ago(8)), staff, ago(7))
    services.claim_reject(
        claim_id=rejected.pk,
        by=staff["reviewer"],
        now=ago(6),
        reason="The injury predates the membership.",
    )
    withdrawn = _claim(pool[6], ago(3))
    services.claim_withdraw(claim_id=withdrawn.pk, by=pool[6].member.user, now=ago(2))
    return Claim.objects.filter(plan=plan).count()
