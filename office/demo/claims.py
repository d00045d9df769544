"""Demo claims in every state, made through the real services at chosen moments. The seed's case
(a 5-year-old girl's accident, a craniotomy) and the other cases of the demo's posted periods
are made here too, for office/demo/billing.py: `seed_case` and `approved_case`."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from claims import disputes, evidence, services
from claims.models import Claim
from members.ages import cover_on
from members.models import Member, Membership, MembershipStatus, Plan, Relationship
from mutual.core.personal_data import blind_index
from mutual.core.timezones import local_date
from office.demo.members import NEW_PLAN
from office.demo_users import ensure_demo_users

SEED_HOSPITAL = "Xinhua Hospital, Shanghai Jiao Tong University School of Medicine"
PUBLIC_NOW_HOSPITAL = "Huashan Hospital, Fudan University"


def _pdf(title: str) -> SimpleUploadedFile:
    body = f"%PDF-1.4\n% {title}\n".encode()
    return SimpleUploadedFile(f"{title}.pdf", body, content_type="application/pdf")


def _seed_girl(plan: Plan, publicized_at: datetime.datetime) -> Membership:
    """The seed's claimant: a 5-year-old girl covered by her mother, the account holder (only
    the mother has a login and a credit score; she joined them both three weeks before)."""
    user, _ = get_user_model().objects.get_or_create(username="demo-seed-mother")
    joined = publicized_at - datetime.timedelta(days=24)  # inside the illness waiting period
    mother, _ = Member.objects.get_or_create(
        user=user,
        defaults={
            "full_name": "Seed case mother",
            "national_id": "DEMO-SEED-MOTHER",
            "birth_date": (publicized_at - datetime.timedelta(days=31 * 365)).date(),
        },
    )
    girl, _ = Member.objects.get_or_create(
        national_id_index=blind_index("DEMO-SEED-GIRL"),  # the id itself is encrypted
        defaults={
            "national_id": "DEMO-SEED-GIRL",
            "payer": mother,
            "relationship": Relationship.CHILD,
            "full_name": "Seed case girl (5)",
            "birth_date": (publicized_at - datetime.timedelta(days=5 * 365 + 40)).date(),
            "guardian_consent_at": joined,
            "guardian_consent_by": user,
        },
    )
    for person in (mother, girl):
        membership, _ = Membership.objects.get_or_create(
            member=person,
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


# A condition of the plan's list for each kind of claim the demo makes (claims.catalogue).
DEFAULT_CONDITIONS = {"accident": "brain-injury-severe", "illness": "malignant-tumour-severe"}


def _claim(
    membership,
    when,
    kind="accident",
    diagnosis="Severe brain injury after a fall",
    amount=None,
    hospital="Ruijin Hospital",
    condition=None,
):
    day = local_date(when - datetime.timedelta(days=3))
    patient = membership.member
    # At most the cover for the patient's age that day (it follows age since joining).
    cover = cover_on(plan=membership.plan, age_years=patient.age_on(day), day=day) or 0
    amount = min(amount or cover, cover)
    return services.claim_submit(
        membership_id=membership.pk,
        by=patient.user or patient.payer.user,
        now=when,
        incident_kind=kind,
        incident_date=day,
        diagnosis_date=day,
        diagnosis=diagnosis,
        hospital=hospital,
        amount_requested_fen=amount,
        condition=condition or DEFAULT_CONDITIONS[kind],
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


def seed_case(*, plan: Plan, staff: dict, publicized_at: datetime.datetime) -> Claim:
    """The seed's case, public from `publicized_at` for the plan's window, then approved (the
    window closer) the moment it closes: an accident in the waiting period, covered at once."""
    girl = _seed_girl(plan, publicized_at)
    day = local_date(publicized_at - datetime.timedelta(days=18))
    claim = services.claim_submit(
        membership_id=girl.pk,
        by=girl.member.payer.user,  # her mother files it
        now=publicized_at - datetime.timedelta(days=1),
        incident_kind="accident",
        incident_date=day,
        diagnosis_date=day,
        diagnosis="Craniotomy after an accidental fall",
        hospital=SEED_HOSPITAL,
        amount_requested_fen=300_000_00,
        condition="brain-injury-severe",
    )
    return _publicized_and_closed(claim, staff, publicized_at, seed_documents=True)


def approved_case(
    *, membership: Membership, staff: dict, publicized_at: datetime.datetime, **claim
) -> Claim:
    """A claim submitted two days before `publicized_at`, investigated, public, and approved
    when its window closes. `claim`: `kind`, `diagnosis`, `amount`, `hospital` of `_claim`."""
    submitted = _claim(membership, publicized_at - datetime.timedelta(days=2), **claim)
    return _publicized_and_closed(submitted, staff, publicized_at)


def _publicized_and_closed(claim, staff, publicized_at, *, seed_documents=False) -> Claim:
    _investigated(
        claim, staff, publicized_at - datetime.timedelta(hours=20), seed_documents=seed_documents
    )
    claim = services.claim_publicize(claim_id=claim.pk, by=staff["investigator"], now=publicized_at)
    services.claims_close_due_windows(now=claim.publicity_ends_at + datetime.timedelta(minutes=5))
    claim.refresh_from_db()
    return claim


@transaction.atomic
def seed_demo_claims(*, now: datetime.datetime, seed: int) -> int:
    """Claims in every state around `now` (the seed's case is office/demo/billing.py's, in a posted
    period). Idempotent: does nothing once the case now in its public window exists. Returns
    claims created."""
    if Claim.objects.filter(hospital=PUBLIC_NOW_HOSPITAL).exists():
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
        .exclude(claims__isnull=False)
        .select_related("member")
        .order_by("pk")[:12]
    )
    if len(pool) < 10:
        return 0
    ago = lambda days: now - datetime.timedelta(days=days)  # noqa: E731

    # In its public window now: a fracture, investigated, public for three days.
    public = _investigated(
        _claim(
            pool[7],
            ago(2),
            diagnosis="Third-degree burns after a kitchen fire",
            hospital=PUBLIC_NOW_HOSPITAL,
            condition="third-degree-burns-severe",
        ),
        staff,
        ago(1),
    )
    services.claim_publicize(claim_id=public.pk, by=staff["investigator"], now=ago(1))

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
    services.claims_close_due_windows(now=ago(0))  # 2 approved (billed next period), 1 disputed
    rejected = _investigated(_claim(pool[5], ago(8)), staff, ago(7))
    services.claim_reject(
        claim_id=rejected.pk,
        by=staff["reviewer"],
        now=ago(6),
        code="not_covered_person",
        reason="The injury predates the membership.",
    )
    withdrawn = _claim(pool[6], ago(3))
    services.claim_withdraw(claim_id=withdrawn.pk, by=pool[6].member.user, now=ago(2))
    return Claim.objects.filter(plan=plan).count()
