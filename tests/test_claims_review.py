"""Issue 20, second looks: appeals, the fraud and duplicate signals (each fires, and does not),
and the random audit sample, reproducible from its recorded seed."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from rest_framework.test import APIClient

from claims import fraud, review, sampling, services
from claims.models import (
    AppealStatus,
    AuditOutcome,
    Claim,
    ClaimAudit,
    ClaimState,
    Condition,
    DeskPolicy,
    SignalCode,
)
from mutual.core.errors import ServiceError
from notifications.models import Notice
from tests.claim_steps import after_window, to_investigating, to_publicized
from tests.factories import ClaimFactory, MemberFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 11, 2, 10, tzinfo=SH)


def refused(claim, investigator, reviewer, now=NOW):
    to_investigating(claim, investigator=investigator, now=now)
    return services.claim_reject(
        claim_id=claim.pk, by=reviewer, now=now, code="pre_existing", reason="seen in 2015"
    )


# --- appeals ---------------------------------------------------------------------------------
@pytest.fixture
def second_reviewer(db):
    from django.contrib.auth.models import Group

    user = UserFactory(username="rev2", is_staff=True)
    user.groups.add(Group.objects.get(name="reviewer"))
    return user


def test_a_refused_claimant_appeals_and_another_reviewer_upholds_it(
    membership, investigator, reviewer, second_reviewer
):
    claim = refused(ClaimFactory(membership=membership), investigator, reviewer)
    api = APIClient()
    api.force_authenticate(membership.member.user)
    import time_machine

    with time_machine.travel(NOW + datetime.timedelta(days=29), tick=False):
        answer = api.post(f"/api/claims/{claim.pk}/appeal/", {"reason": "diagnosed in 2024"})
        assert answer.status_code == 201, answer.content
        again = api.post(f"/api/claims/{claim.pk}/appeal/", {"reason": "again"})
        assert again.status_code == 400
    later = NOW + datetime.timedelta(days=30)
    with pytest.raises(PermissionDenied):  # the one who refused it may not decide the appeal
        review.appeal_decide(claim_id=claim.pk, uphold=True, by=reviewer, now=later)
    with pytest.raises(PermissionDenied):  # nor an investigator
        review.appeal_decide(claim_id=claim.pk, uphold=True, by=investigator, now=later)
    appeal = review.appeal_decide(
        claim_id=claim.pk, uphold=True, note="the 2015 record is another person's",
        by=second_reviewer, now=later,
    )  # fmt: skip
    claim.refresh_from_db()
    assert appeal.status == AppealStatus.UPHELD
    assert (claim.state, claim.reason.code) == (ClaimState.INVESTIGATING, "appeal_upheld")
    assert Notice.objects.filter(event=f"appeal:{appeal.pk}:upheld").exists()


def test_appeals_refused_late_twice_or_empty(membership, investigator, reviewer, second_reviewer):
    claim = refused(ClaimFactory(membership=membership), investigator, reviewer)
    user = membership.member.user
    with pytest.raises(ServiceError) as error:
        review.appeal_file(
            claim_id=claim.pk, reason="x", by=user, now=NOW + datetime.timedelta(days=31)
        )
    assert error.value.code == "appeal_late"
    with pytest.raises(ServiceError):
        review.appeal_file(claim_id=claim.pk, reason="  ", by=user, now=NOW)
    stranger = MembershipFactory(plan=membership.plan).member.user
    with pytest.raises(PermissionDenied):
        review.appeal_file(claim_id=claim.pk, reason="mine", by=stranger, now=NOW)
    review.appeal_file(claim_id=claim.pk, reason="wrong", by=user, now=NOW)
    with pytest.raises(ServiceError) as error:  # dismissal needs a note
        review.appeal_decide(claim_id=claim.pk, uphold=False, by=second_reviewer, now=NOW)
    assert error.value.code == "reason_required"
    appeal = review.appeal_decide(
        claim_id=claim.pk, uphold=False, note="the record is clear", by=second_reviewer, now=NOW
    )
    claim.refresh_from_db()
    assert appeal.status == AppealStatus.DISMISSED and claim.state == ClaimState.REJECTED
    with pytest.raises(ServiceError) as error:
        review.appeal_file(claim_id=claim.pk, reason="again", by=user, now=NOW)
    assert error.value.code == "already_appealed"


# --- fraud signals ---------------------------------------------------------------------------
def signals(claim):
    claim.refresh_from_db()
    fraud.claim_signals_compute(claim=claim, now=NOW)
    return set(claim.signals.values_list("code", flat=True))


# The duplicate-person signal: tests/test_personal_data.py (it looks through the blind index).


def test_early_after_waiting_fires_within_15_days_of_its_end(membership):
    ends = membership.waiting_until.date()
    early = ClaimFactory(membership=membership, incident_kind="illness", incident_date=ends,
                         diagnosis_date=ends + datetime.timedelta(days=14))  # fmt: skip
    late = ClaimFactory(membership=membership, incident_kind="illness", incident_date=ends,
                        diagnosis_date=ends + datetime.timedelta(days=15))  # fmt: skip
    accident = ClaimFactory(membership=membership, incident_date=ends, diagnosis_date=ends)
    assert SignalCode.EARLY_AFTER_WAITING in signals(early)
    assert SignalCode.EARLY_AFTER_WAITING not in signals(late)
    assert SignalCode.EARLY_AFTER_WAITING not in signals(accident)


def test_same_incident_fires_for_the_same_hospital_condition_and_date(plan):
    first = ClaimFactory(membership__plan=plan, hospital="Xinhua Hospital")
    other_day = ClaimFactory(membership__plan=plan, hospital="Xinhua Hospital",
                             incident_date=datetime.date(2018, 11, 17),
                             diagnosis_date=datetime.date(2018, 11, 17))  # fmt: skip
    assert SignalCode.SAME_INCIDENT not in signals(first)
    assert SignalCode.SAME_INCIDENT not in signals(other_day)
    twin = ClaimFactory(membership__plan=plan, hospital="XINHUA HOSPITAL")
    assert SignalCode.SAME_INCIDENT in signals(twin)
    assert SignalCode.SAME_INCIDENT in signals(first)  # recomputed: it now has a twin


def test_full_cover_for_lesser_fires_for_all_of_a_fixed_amount(membership):
    mild = Condition.objects.create(
        plan=membership.plan, code="mild-thyroid", name_en="Mild thyroid cancer",
        name_zh="轻度甲状腺癌", category="mild", pays_fen=5_000_000,
        in_force_from=datetime.date(2018, 1, 1),
    )  # fmt: skip
    asks_all = ClaimFactory(membership=membership, condition=mild, cover_fen=5_000_000,
                            amount_requested_fen=5_000_000)  # fmt: skip
    asks_less = ClaimFactory(membership=membership, condition=mild, cover_fen=5_000_000,
                             amount_requested_fen=3_000_000)  # fmt: skip
    assert SignalCode.FULL_COVER_FOR_LESSER in signals(asks_all)
    assert SignalCode.FULL_COVER_FOR_LESSER not in signals(asks_less)
    assert SignalCode.FULL_COVER_FOR_LESSER not in signals(ClaimFactory(membership=membership))


def test_many_claims_from_one_household_in_a_year(membership, plan):
    holder = membership.member
    child = MemberFactory(payer=holder, user=None, relationship="child",
                          birth_date=datetime.date(2015, 1, 1))  # fmt: skip
    child_membership = MembershipFactory(plan=plan, member=child)
    old = ClaimFactory(membership=membership, submitted_at=NOW - datetime.timedelta(days=400))
    second = ClaimFactory(
        membership=child_membership, submitted_at=NOW - datetime.timedelta(days=30)
    )
    third = ClaimFactory(membership=membership, submitted_at=NOW)
    assert SignalCode.MANY_CLAIMS_PAYER not in signals(third)  # the old one is past a year
    assert old.pk and second.pk
    fourth = ClaimFactory(membership=child_membership, submitted_at=NOW)
    assert SignalCode.MANY_CLAIMS_PAYER in signals(fourth)


def test_a_risky_claim_is_queued_for_a_supervisor_and_never_refused(plan):
    twin_a = ClaimFactory(membership__plan=plan)
    twin_b = ClaimFactory(membership__plan=plan)
    fraud.claim_signals_compute(claim=twin_b, now=NOW)
    twin_b.refresh_from_db()
    assert twin_b.risk_score == 40 and twin_b.state == ClaimState.SUBMITTED
    risky = set(Claim.objects.filter(fraud.risky_q()))
    assert risky == set()  # 40 is under the default threshold of 50
    DeskPolicy.objects.create(plan=plan, risk_threshold=40)
    assert set(Claim.objects.filter(fraud.risky_q())) == {twin_b}
    assert twin_a.pk


def test_signals_are_computed_when_a_claim_arrives_and_when_it_moves(plan, investigator):
    first = ClaimFactory(membership__plan=plan)
    membership = MembershipFactory(plan=plan)
    claim = services.claim_submit(
        membership_id=membership.pk, by=membership.member.user, now=NOW,
        incident_kind="accident", incident_date=first.incident_date,
        diagnosis_date=first.diagnosis_date, diagnosis="fall", hospital=first.hospital,
        amount_requested_fen=100_000,
    )  # fmt: skip
    assert claim.risk_score == 40
    Claim.objects.filter(pk=first.pk).update(hospital="elsewhere")
    to_investigating(claim, investigator=investigator, now=NOW)
    claim.refresh_from_db()
    assert claim.risk_score == 0 and not claim.signals.exists()


# --- the random audit sample -----------------------------------------------------------------
def test_the_sample_is_reproducible_from_its_recorded_seed():
    seed = "0123456789abcdef0123456789abcdef"
    picked = [
        i for i in range(1, 2001) if sampling.audit_picked(seed=seed, claim_id=i, permille=50)
    ]
    assert picked == [
        i for i in range(1, 2001) if sampling.audit_picked(seed=seed, claim_id=i, permille=50)
    ]
    assert 60 <= len(picked) <= 140  # about 5% of 2,000
    other = [i for i in range(1, 2001) if sampling.audit_picked(seed="x", claim_id=i, permille=50)]
    assert picked != other
    assert not any(sampling.audit_picked(seed=seed, claim_id=i, permille=0) for i in range(500))
    assert all(sampling.audit_picked(seed=seed, claim_id=i, permille=1000) for i in range(500))


def test_a_sampled_claim_waits_for_its_second_review_then_is_approved_or_reviewed(
    plan, investigator, reviewer
):
    DeskPolicy.objects.create(plan=plan, audit_permille=1000)  # every claim, for the test
    kept = to_publicized(ClaimFactory(membership__plan=plan), investigator=investigator, now=NOW)
    missed = to_publicized(ClaimFactory(membership__plan=plan), investigator=investigator, now=NOW)
    closed = services.claims_close_due_windows(now=after_window(kept))
    assert closed["held"] == 2 and closed["approved"] == 0
    assert services.claims_close_due_windows(now=after_window(kept))["held"] == 0  # once
    audit = ClaimAudit.objects.get(claim=kept)
    assert sampling.audit_picked(seed=audit.seed, claim_id=kept.pk, permille=audit.permille)
    with pytest.raises(PermissionDenied):  # whoever recorded the findings may not audit
        review.audit_decide(
            claim_id=kept.pk, confirmed=True, by=investigator, now=after_window(kept)
        )
    review.audit_decide(claim_id=kept.pk, confirmed=True, by=reviewer, now=after_window(kept))
    with pytest.raises(ServiceError):
        review.audit_decide(
            claim_id=missed.pk, confirmed=False, by=reviewer, now=after_window(kept)
        )
    review.audit_decide(
        claim_id=missed.pk, confirmed=False, note="the invoice is for another patient",
        by=reviewer, now=after_window(kept),
    )  # fmt: skip
    kept.refresh_from_db()
    missed.refresh_from_db()
    assert kept.state == ClaimState.APPROVED and missed.state == ClaimState.DISPUTED
    assert ClaimAudit.objects.get(claim=missed).outcome == AuditOutcome.MISSED
    from claims.kpis import audit_miss_rate

    assert audit_miss_rate(now=after_window(kept)) == (1, 2)


# --- the desk's figures ----------------------------------------------------------------------
def test_the_desk_kpis_on_the_dashboard(client, plan, investigator, reviewer):
    import time_machine

    from claims import kpis, requests

    start = NOW - datetime.timedelta(days=10)
    quick = ClaimFactory(membership__plan=plan, submitted_at=start, state_since=start)
    to_investigating(quick, investigator=investigator, now=start + datetime.timedelta(hours=4))
    services.claim_reject(claim_id=quick.pk, by=reviewer, now=start + datetime.timedelta(hours=10),
                          code="pre_existing", reason="x")  # fmt: skip
    slow = ClaimFactory(membership__plan=plan, submitted_at=start, state_since=start)
    to_investigating(slow, investigator=investigator, now=start + datetime.timedelta(hours=20))
    requests.claim_request_info(
        claim_id=slow.pk, documents=["invoice"], deadline=NOW + datetime.timedelta(days=5),
        by=investigator, now=start + datetime.timedelta(days=1),
    )  # fmt: skip
    waiting = ClaimFactory(membership__plan=plan, submitted_at=NOW, state_since=NOW)
    figures = kpis.desk_kpis(now=NOW)
    spans = {row["state"]: row for row in figures["time_in_state"]}
    assert spans["submitted"]["moves"] == 2
    assert spans["submitted"]["median_hours"] == "12.0"  # 4 h and 20 h
    assert spans["investigating"]["median_hours"] == "6.0"
    assert figures["first_pass"] == (1, 1)  # the refusal needed no request
    open_rows = {row["state"]: row for row in figures["open"]}
    assert open_rows["submitted"]["total"] == 1 and open_rows["submitted"]["d0_2"] == 1
    assert open_rows["investigating"]["total"] == 1 and open_rows["investigating"]["d8_30"] == 1
    assert waiting.pk
    # The refusals by reason code: the one refusal, with the catalogue's text.
    assert figures["closed_by_reason"] == [
        {"state": "rejected", "label": "rejected", "code": "pre_existing",
         "text_en": "The condition existed before the patient joined.",
         "text_zh": "疾病在加入计划前已存在。", "count": 1}
    ]  # fmt: skip
    assert kpis.closed_by_reason(now=NOW + datetime.timedelta(days=31)) == []
    from django.core.cache import cache

    cache.delete("desk-kpis")  # the panel keeps its figures a minute, in the shared cache
    client.force_login(reviewer)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/admin/")
    assert page.status_code == 200
    assert 'id="desk-kpis"' in page.content.decode()
    assert "<code>pre_existing</code>" in page.content.decode()


def test_a_claim_reopened_by_staff_closes_its_pending_appeal(membership, investigator, reviewer):
    claim = refused(ClaimFactory(membership=membership), investigator, reviewer)
    appeal = review.appeal_file(
        claim_id=claim.pk, reason="wrong", by=membership.member.user, now=NOW
    )
    services.claim_reopen(claim_id=claim.pk, by=reviewer, now=NOW, code="new_evidence")
    appeal.refresh_from_db()
    claim.refresh_from_db()
    assert appeal.status == AppealStatus.UPHELD and appeal.decided_by == reviewer
    assert not claim.appeal_pending and not Claim.objects.filter(appeal_pending=True).exists()
