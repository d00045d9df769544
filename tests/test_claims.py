import datetime
import logging

import pytest
from django.core.exceptions import PermissionDenied
from django_fsm import TransitionNotAllowed
from django_fsm_log.models import StateLog

from claims import services
from claims.disputes import dispute_raise, jury_vote
from claims.models import Claim, ClaimState
from members.models import DisputeReview
from mutual.core.errors import ServiceError
from tests.claim_steps import (
    after_window,
    dispute_by_a_fellow_member,
    draw_jury,
    to_disputed,
    to_investigating,
    to_publicized,
)
from tests.factories import ClaimFactory, MemberFactory, MembershipFactory, PlanFactory

NOW = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)
pytestmark = pytest.mark.django_db


def state_of(claim) -> str:
    return Claim.objects.values_list("state", flat=True).get(pk=claim.pk)


@pytest.fixture
def claim(plan):
    return ClaimFactory(membership=MembershipFactory(plan=plan))


def submit(membership, **overrides):
    values = {
        "incident_kind": "accident",
        "incident_date": datetime.date(2018, 11, 18),
        "diagnosis_date": datetime.date(2018, 11, 18),
        "diagnosis": "craniotomy",
        "hospital": "Xinhua Hospital",
        "amount_requested_fen": 300_000_00,
        **overrides,
    }
    return services.claim_submit(
        membership_id=membership.pk, by=membership.member.user, now=NOW, **values
    )


class TestSubmission:
    def test_accident_in_the_waiting_period_is_eligible(self, plan):
        membership = MembershipFactory(plan=plan, joined_at=NOW - datetime.timedelta(days=20))
        claim = submit(membership)
        assert claim.state == ClaimState.SUBMITTED and claim.cover_fen == 300_000_00

    def test_dates_are_shanghai_calendar_days(self, plan):
        # 18:30 UTC on the 17th is 02:30 on the 18th in Shanghai: an accident that day counts,
        # after the joining time (issue 18, defect 12: the claim then says when).
        joined = datetime.datetime(2018, 11, 17, 18, 30, tzinfo=datetime.UTC)
        membership = MembershipFactory(plan=plan, joined_at=joined, in_pool_since=joined)
        claim = submit(membership, incident_time=datetime.time(3, 0))
        assert claim.incident_date == datetime.date(2018, 11, 18)
        with pytest.raises(ServiceError) as error:
            submit(
                membership,
                incident_date=datetime.date(2018, 11, 17),
                diagnosis_date=datetime.date(2018, 11, 17),
            )
        assert error.value.code == "before_joining"

    def test_illness_in_the_waiting_period_is_refused_with_the_reason(self, plan):
        membership = MembershipFactory(plan=plan, joined_at=NOW - datetime.timedelta(days=20))
        with pytest.raises(ServiceError) as error:
            submit(membership, incident_kind="illness")
        assert error.value.code == "waiting_period"
        assert "waiting period" in error.value.message
        assert not Claim.objects.exists()

    def test_illness_after_the_waiting_period_is_eligible(self, plan):
        membership = MembershipFactory(plan=plan, joined_at=NOW - datetime.timedelta(days=200))
        assert submit(membership, incident_kind="illness").incident_kind == "illness"

    def test_a_withdrawn_membership_cannot_claim(self, plan):
        membership = MembershipFactory(plan=plan)
        from members.services import membership_withdraw

        membership_withdraw(membership_id=membership.pk, by=membership.member.user, now=NOW)
        with pytest.raises(ServiceError) as error:
            submit(membership)
        assert error.value.code == "not_live"

    def test_more_than_the_cover_is_refused(self, plan):
        with pytest.raises(ServiceError) as error:
            submit(MembershipFactory(plan=plan), amount_requested_fen=300_000_01)
        assert error.value.field == "amount_requested_fen"

    def test_someone_else_cannot_claim_on_a_membership(self, plan):
        membership = MembershipFactory(plan=plan)
        with pytest.raises(ServiceError) as error:  # as if it did not exist (issue 13)
            services.claim_submit(
                membership_id=membership.pk,
                by=MemberFactory().user,
                now=NOW,
                incident_kind="accident",
                incident_date=datetime.date(2018, 11, 18),
                diagnosis_date=datetime.date(2018, 11, 18),
                diagnosis="x",
                hospital="y",
                amount_requested_fen=100,
            )
        assert (error.value.field, error.value.code) == ("membership", "not_your_membership")


class TestAllowedTransitions:
    def test_the_seed_path_submitted_to_approved(self, claim, investigator, reviewer):
        to_publicized(claim, investigator=investigator, now=NOW)
        assert state_of(claim) == ClaimState.PUBLICIZED
        claim.refresh_from_db()
        assert claim.publicity_ends_at == NOW + datetime.timedelta(days=3)
        services.claim_approve(claim_id=claim.pk, by=reviewer, now=after_window(claim))
        assert state_of(claim) == ClaimState.APPROVED
        transitions = list(
            StateLog.objects.for_(claim).order_by("timestamp", "pk").values_list("transition", "by")
        )
        assert transitions == [
            ("start_investigation", investigator.pk),
            ("publicize", investigator.pk),
            ("approve", reviewer.pk),
        ]

    def test_log_rows_carry_the_services_now_not_the_wall_clock(self, claim, investigator):
        to_publicized(claim, investigator=investigator, now=NOW)
        stamps = StateLog.objects.for_(claim).values_list("transition", "timestamp")
        assert sorted(stamps) == [("publicize", NOW), ("start_investigation", NOW)]

    def test_member_withdraws_a_submitted_claim(self, claim):
        services.claim_withdraw(claim_id=claim.pk, by=claim.membership.member.user, now=NOW)
        assert state_of(claim) == ClaimState.WITHDRAWN

    def test_reviewer_rejects_after_investigation(self, claim, investigator, reviewer):
        to_investigating(claim, investigator=investigator, now=NOW)
        services.claim_reject(
            claim_id=claim.pk, by=reviewer, now=NOW, code="misstatement", reason="not an accident"
        )
        assert state_of(claim) == ClaimState.REJECTED

    def test_disputed_claim_is_approved_with_a_reason(self, claim, investigator, reviewer):
        claim = to_disputed(claim, investigator=investigator, now=NOW)
        assert state_of(claim) == ClaimState.DISPUTED
        services.claim_approve(
            claim_id=claim.pk,
            by=reviewer,
            now=after_window(claim),
            reason="hospital confirmed the surgery",
        )
        assert state_of(claim) == ClaimState.APPROVED

    def test_disputed_claim_is_rejected(self, claim, investigator, reviewer):
        claim = to_disputed(claim, investigator=investigator, now=NOW)
        services.claim_reject(
            claim_id=claim.pk,
            by=reviewer,
            now=after_window(claim),
            code="misstatement",
            reason="pre-existing condition",
        )
        assert state_of(claim) == ClaimState.REJECTED

    def test_finance_marks_an_approved_claim_paid(self, claim, investigator, reviewer, finance):
        claim = to_publicized(claim, investigator=investigator, now=NOW)
        services.claim_approve(claim_id=claim.pk, by=reviewer, now=after_window(claim))
        services.claim_mark_paid(claim_id=claim.pk, by=finance, now=after_window(claim))
        assert state_of(claim) == ClaimState.PAID


class TestForbiddenTransitions:
    @pytest.mark.parametrize(
        "call",
        [
            lambda c, u: services.claim_approve(claim_id=c.pk, by=u, now=NOW),
            lambda c, u: services.claim_reject(
                claim_id=c.pk, by=u, now=NOW, code="misstatement", reason="r"
            ),
            lambda c, u: services.claim_mark_paid(claim_id=c.pk, by=u, now=NOW),
            lambda c, u: services.claim_publicize(claim_id=c.pk, by=u, now=NOW),
            lambda c, u: services.claim_open_dispute_review(claim_id=c.pk, by=u, now=NOW),
        ],
    )
    def test_nothing_but_investigation_or_withdrawal_leaves_submitted(self, claim, reviewer, call):
        with pytest.raises((TransitionNotAllowed, ServiceError)):
            call(claim, reviewer)
        assert state_of(claim) == ClaimState.SUBMITTED

    def test_approval_inside_the_window_is_refused(self, claim, investigator, reviewer):
        claim = to_publicized(claim, investigator=investigator, now=NOW)
        with pytest.raises(ServiceError) as error:
            services.claim_approve(claim_id=claim.pk, by=reviewer, now=NOW)
        assert error.value.code == "window_open"
        assert state_of(claim) == ClaimState.PUBLICIZED

    def test_a_disputed_claim_cannot_be_approved_as_undisputed(self, claim, investigator, reviewer):
        claim = to_publicized(claim, investigator=investigator, now=NOW)
        dispute_by_a_fellow_member(claim, now=NOW)
        with pytest.raises(TransitionNotAllowed):
            services.claim_approve(claim_id=claim.pk, by=reviewer, now=after_window(claim))
        assert state_of(claim) == ClaimState.PUBLICIZED

    def test_publicity_needs_recorded_findings(self, claim, investigator):
        to_investigating(claim, investigator=investigator, now=NOW)
        with pytest.raises(TransitionNotAllowed):
            services.claim_publicize(claim_id=claim.pk, by=investigator, now=NOW)
        assert state_of(claim) == ClaimState.INVESTIGATING

    def test_paid_and_rejected_are_final(self, claim, investigator, reviewer, finance):
        claim = to_publicized(claim, investigator=investigator, now=NOW)
        services.claim_approve(claim_id=claim.pk, by=reviewer, now=after_window(claim))
        services.claim_mark_paid(claim_id=claim.pk, by=finance, now=after_window(claim))
        for call in (
            lambda: services.claim_reject(
                claim_id=claim.pk, by=reviewer, now=NOW, code="misstatement", reason="x"
            ),
            lambda: services.claim_withdraw(
                claim_id=claim.pk, by=claim.membership.member.user, now=NOW
            ),
            lambda: services.claim_mark_paid(claim_id=claim.pk, by=finance, now=NOW),
        ):
            with pytest.raises(TransitionNotAllowed):
                call()
        assert state_of(claim) == ClaimState.PAID

    def test_only_the_claimant_withdraws(self, claim, reviewer):
        with pytest.raises(PermissionDenied):
            services.claim_withdraw(claim_id=claim.pk, by=reviewer, now=NOW)
        assert state_of(claim) == ClaimState.SUBMITTED

    def test_a_member_cannot_start_an_investigation(self, claim, investigator):
        with pytest.raises(PermissionDenied):
            services.claim_start_investigation(
                claim_id=claim.pk,
                investigator_id=investigator.pk,
                by=claim.membership.member.user,
                now=NOW,
            )
        assert state_of(claim) == ClaimState.SUBMITTED

    def test_investigators_cannot_decide(self, claim, investigator, other_investigator):
        to_investigating(claim, investigator=investigator, now=NOW)
        with pytest.raises(PermissionDenied):
            services.claim_reject(
                claim_id=claim.pk, by=other_investigator, now=NOW, code="misstatement", reason="x"
            )
        assert state_of(claim) == ClaimState.INVESTIGATING

    def test_reviewers_cannot_mark_paid(self, claim, investigator, reviewer):
        claim = to_publicized(claim, investigator=investigator, now=NOW)
        services.claim_approve(claim_id=claim.pk, by=reviewer, now=after_window(claim))
        with pytest.raises(PermissionDenied):
            services.claim_mark_paid(claim_id=claim.pk, by=reviewer, now=NOW)
        assert state_of(claim) == ClaimState.APPROVED

    def test_the_state_field_is_protected(self, claim):
        with pytest.raises(AttributeError):
            claim.state = ClaimState.APPROVED


class TestFourEyes:
    def test_the_recorder_of_findings_cannot_approve(self, claim, reviewer):
        # A reviewer who also investigated: they may publicize, never approve the same claim.
        to_publicized(claim, investigator=reviewer, now=NOW)
        claim.refresh_from_db()
        with pytest.raises(PermissionDenied):
            services.claim_approve(claim_id=claim.pk, by=reviewer, now=after_window(claim))
        assert state_of(claim) == ClaimState.PUBLICIZED

    def test_the_recorder_of_findings_cannot_reject(self, claim, reviewer):
        to_investigating(claim, investigator=reviewer, now=NOW)
        services.claim_record_investigation(claim_id=claim.pk, summary="s", by=reviewer, now=NOW)
        with pytest.raises(PermissionDenied):
            services.claim_reject(
                claim_id=claim.pk, by=reviewer, now=NOW, code="misstatement", reason="x"
            )

    def test_only_the_assigned_investigator_records_findings(
        self, claim, investigator, other_investigator
    ):
        to_investigating(claim, investigator=investigator, now=NOW)
        with pytest.raises(PermissionDenied):
            services.claim_record_investigation(
                claim_id=claim.pk, summary="s", by=other_investigator, now=NOW
            )


class TestDisputes:
    @pytest.fixture
    def public_claim(self, claim, investigator):
        return to_publicized(claim, investigator=investigator, now=NOW)

    def test_an_active_member_of_the_plan_disputes_during_the_window(self, public_claim):
        member_id = MembershipFactory(plan=public_claim.plan).member_id
        dispute = dispute_raise(
            claim_id=public_claim.pk,
            member_id=member_id,
            reason="why",
            now=NOW + datetime.timedelta(days=2),
        )
        assert dispute.claim_id == public_claim.pk

    def test_after_the_window_none(self, public_claim):
        member_id = MembershipFactory(plan=public_claim.plan).member_id
        with pytest.raises(ServiceError) as error:
            dispute_raise(
                claim_id=public_claim.pk,
                member_id=member_id,
                reason="late",
                now=public_claim.publicity_ends_at,
            )
        assert error.value.code == "window_closed"

    def test_twice_by_one_member_is_refused(self, public_claim):
        member_id = MembershipFactory(plan=public_claim.plan).member_id
        dispute_raise(claim_id=public_claim.pk, member_id=member_id, reason="one", now=NOW)
        with pytest.raises(ServiceError) as error:
            dispute_raise(claim_id=public_claim.pk, member_id=member_id, reason="two", now=NOW)
        assert error.value.code == "already_disputed"
        assert public_claim.disputes.count() == 1

    def test_the_claimant_cannot_dispute(self, public_claim):
        with pytest.raises(ServiceError) as error:
            dispute_raise(
                claim_id=public_claim.pk,
                reason="me",
                member_id=public_claim.membership.member_id,
                now=NOW,
            )
        assert error.value.code == "own_claim"

    def test_a_member_of_another_plan_cannot_dispute(self, public_claim):
        outsider = MembershipFactory(plan=PlanFactory()).member_id
        with pytest.raises(ServiceError) as error:
            dispute_raise(claim_id=public_claim.pk, member_id=outsider, reason="x", now=NOW)
        assert error.value.code == "not_a_sharer"

    def test_before_publicity_none(self, claim):
        member_id = MembershipFactory(plan=claim.plan).member_id
        with pytest.raises(ServiceError):
            dispute_raise(claim_id=claim.pk, member_id=member_id, reason="x", now=NOW)


class TestJury:
    def test_a_quorum_majority_decides_and_is_logged(self, investigator):
        plan = PlanFactory(dispute_review=DisputeReview.JURY, jury_size=3, jury_quorum=3)
        pool = MembershipFactory.create_batch(8, plan=plan)
        claim = to_publicized(ClaimFactory(membership=pool[0]), investigator=investigator, now=NOW)
        dispute_raise(claim_id=claim.pk, member_id=pool[1].member_id, reason="doubt", now=NOW)
        services.claims_close_due_windows(now=after_window(claim))
        assert draw_jury(claim, now=after_window(claim)) == 3  # its own task, after the closer
        jurors = list(claim.jury.values_list("member_id", flat=True))
        assert len(jurors) == 3
        assert not {pool[0].member_id, pool[1].member_id} & set(jurors)
        moment = after_window(claim)
        jury_vote(claim_id=claim.pk, member_id=jurors[0], vote="approve", now=moment)
        jury_vote(claim_id=claim.pk, member_id=jurors[1], vote="reject", now=moment)
        assert state_of(claim) == ClaimState.DISPUTED  # no quorum yet
        with pytest.raises(ServiceError):
            jury_vote(claim_id=claim.pk, member_id=jurors[0], vote="reject", now=moment)
        jury_vote(claim_id=claim.pk, member_id=jurors[2], vote="approve", now=moment)
        assert state_of(claim) == ClaimState.APPROVED
        log = StateLog.objects.for_(claim).filter(transition="approve").get()
        assert log.description == "jury decision: 2 approve, 1 reject" and log.by is None

    def test_a_member_not_drawn_cannot_vote(self, claim, investigator):
        claim = to_disputed(claim, investigator=investigator, now=NOW)
        with pytest.raises(ServiceError) as error:
            jury_vote(claim_id=claim.pk, member_id=MemberFactory().pk, vote="approve", now=NOW)
        assert error.value.code in {"not_a_juror"}


class TestWindowCloser:
    def test_undisputed_are_approved_and_disputed_go_to_review(self, plan, investigator):
        quiet = to_publicized(
            ClaimFactory(membership=MembershipFactory(plan=plan)),
            investigator=investigator,
            now=NOW,
        )
        contested = to_publicized(
            ClaimFactory(membership=MembershipFactory(plan=plan)),
            investigator=investigator,
            now=NOW,
        )
        later = to_publicized(
            ClaimFactory(membership=MembershipFactory(plan=plan)),
            investigator=investigator,
            now=NOW + datetime.timedelta(days=1),
        )
        dispute_raise(
            claim_id=contested.pk,
            member_id=MembershipFactory(plan=plan).member_id,
            reason="doubt",
            now=NOW,
        )
        result = services.claims_close_due_windows(now=after_window(quiet))
        assert result == {"approved": 1, "disputed": 1, "held": 0, "failed": 0}
        assert state_of(quiet) == ClaimState.APPROVED
        assert state_of(contested) == ClaimState.DISPUTED
        assert state_of(later) == ClaimState.PUBLICIZED
        assert services.claims_close_due_windows(now=after_window(quiet)) == {
            "approved": 0,
            "disputed": 0,
            "held": 0,
            "failed": 0,
        }

    def test_one_failing_claim_does_not_stop_the_others(
        self, plan, investigator, monkeypatch, caplog
    ):
        claims = [
            to_publicized(
                ClaimFactory(membership=MembershipFactory(plan=plan)),
                investigator=investigator,
                now=NOW,
            )
            for _ in range(5)
        ]
        poisoned = claims[0]
        approve = services.claim_approve

        def approve_unless_poisoned(*, claim_id, **kwargs):
            if claim_id == poisoned.pk:
                raise RuntimeError("poisoned claim")
            return approve(claim_id=claim_id, **kwargs)

        monkeypatch.setattr(services, "claim_approve", approve_unless_poisoned)
        moment = after_window(poisoned)
        with caplog.at_level(logging.ERROR, logger="claims.services"):
            result = services.claims_close_due_windows(now=moment, batch_size=2)
        assert result == {"approved": 4, "disputed": 0, "held": 0, "failed": 1}
        assert [state_of(claim) for claim in claims] == [ClaimState.PUBLICIZED] + [
            ClaimState.APPROVED
        ] * 4
        failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(failures) == 1
        assert str(poisoned.pk) in failures[0].getMessage()
        assert str(failures[0].exc_info[1]) == "poisoned claim"
        # The next run tries the failed claim again, and only it.
        assert services.claims_close_due_windows(now=moment) == {
            "approved": 0,
            "disputed": 0,
            "held": 0,
            "failed": 1,
        }
