"""A reopened claim is publicized afresh (issue 20, item 5): the earlier round's disputes and
jury are kept but decided, and the new round has its own disputes, seed and jury."""

import datetime

import pytest

from claims import services
from claims.disputes import dispute_raise, jury_vote
from claims.jury import revealed_seed
from claims.models import ClaimState, JuryDraw
from members.models import DisputeReview
from mutual.core.errors import ServiceError
from notifications.models import Notice
from tests.claim_steps import after_window, tasks_in_this_process, to_publicized
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def close_window(django_capture_on_commit_callbacks):
    def close(claim):
        with tasks_in_this_process(), django_capture_on_commit_callbacks(execute=True):
            services.claims_close_due_windows(now=after_window(claim))
        claim.refresh_from_db()
        return claim

    return close


@pytest.fixture
def refused_by_a_jury(investigator, close_window):
    """Round 0: publicized, disputed by pool[1], refused by its jury."""
    plan = PlanFactory(dispute_review=DisputeReview.JURY, jury_size=3, jury_quorum=3)
    pool = MembershipFactory.create_batch(12, plan=plan)
    claim = to_publicized(ClaimFactory(membership=pool[0]), investigator=investigator, now=NOW)
    dispute_raise(claim_id=claim.pk, member_id=pool[1].member_id, reason="doubt", now=NOW)
    claim = close_window(claim)
    for member_id in claim.jury.values_list("member_id", flat=True):
        jury_vote(claim_id=claim.pk, member_id=member_id, vote="reject", now=after_window(claim))
    claim.refresh_from_db()
    assert claim.state == ClaimState.REJECTED
    return claim, pool


def reopen_and_publicize(claim, *, reviewer, investigator, now):
    services.claim_reopen(claim_id=claim.pk, by=reviewer, now=now, code="new_evidence")
    return services.claim_publicize(claim_id=claim.pk, by=investigator, now=now)


def test_a_second_round_with_no_dispute_is_approved(
    refused_by_a_jury, reviewer, investigator, close_window
):
    claim, _pool = refused_by_a_jury
    later = after_window(claim) + datetime.timedelta(days=1)
    claim = reopen_and_publicize(claim, reviewer=reviewer, investigator=investigator, now=later)
    assert claim.reopened == 1 and claim.round_disputes().count() == 0
    with pytest.raises(Exception):  # noqa: B017 - no dispute this round: nothing to review
        services.claim_open_dispute_review(claim_id=claim.pk, by=None, now=later)
    claim = close_window(claim)
    assert claim.state == ClaimState.APPROVED
    # The first round's dispute and jury are kept; its seed is public now the round is over.
    assert claim.disputes.count() == 1
    first = JuryDraw.objects.get(claim=claim, round=0)
    assert revealed_seed(first) == first.seed
    # Each round's publicity is told to the claimant afresh.
    told = Notice.objects.filter(member=claim.membership.member, event__contains="publicized")
    assert told.count() == 2


def test_a_second_round_is_disputed_afresh_and_judged_by_a_new_jury(
    refused_by_a_jury, reviewer, investigator, close_window
):
    claim, pool = refused_by_a_jury
    first = JuryDraw.objects.get(claim=claim, round=0)
    first_jurors = set(claim.jury.values_list("member_id", flat=True))
    later = after_window(claim) + datetime.timedelta(days=1)
    claim = reopen_and_publicize(claim, reviewer=reviewer, investigator=investigator, now=later)
    # The member who disputed round 0 may dispute round 1, once.
    dispute_raise(claim_id=claim.pk, member_id=pool[1].member_id, reason="still", now=later)
    with pytest.raises(ServiceError):
        dispute_raise(claim_id=claim.pk, member_id=pool[1].member_id, reason="again", now=later)
    second = JuryDraw.objects.get(claim=claim, round=1)
    assert second.commitment != first.commitment
    assert revealed_seed(second) is None  # round 1 is not decided: its seed stays secret
    claim = close_window(claim)
    assert claim.state == ClaimState.DISPUTED
    jurors = list(claim.round_jury().values_list("member_id", flat=True))
    assert len(jurors) == 3 and pool[1].member_id not in jurors
    # A juror of round 0 only is no juror of round 1.
    outsider = next(iter(first_jurors - set(jurors)), None)
    if outsider is not None:
        with pytest.raises(ServiceError):
            jury_vote(claim_id=claim.pk, member_id=outsider, vote="reject", now=later)
    moment = after_window(claim)
    for member_id in jurors:
        jury_vote(claim_id=claim.pk, member_id=member_id, vote="approve", now=moment)
    claim.refresh_from_db()
    assert claim.state == ClaimState.APPROVED
    assert revealed_seed(JuryDraw.objects.get(pk=second.pk)) == second.seed


@pytest.fixture
def appealed(refused_by_a_jury, django_capture_on_commit_callbacks):
    from claims.review import appeal_file

    claim, pool = refused_by_a_jury
    earlier_jurors = set(claim.jury.values_list("member_id", flat=True))
    now = claim.decided_at + datetime.timedelta(days=3)
    with tasks_in_this_process(), django_capture_on_commit_callbacks(execute=True):
        filed = appeal_file(
            claim_id=claim.pk, reason="the new scan shows it", by=pool[0].member.user, now=now
        )
    claim.refresh_from_db()
    return claim, pool, filed, earlier_jurors, now


def test_on_a_jury_plan_an_appeal_goes_to_a_new_jury_which_upholds_it(appealed):
    from claims.models import AppealStatus

    claim, pool, filed, earlier_jurors, now = appealed
    assert claim.state == ClaimState.DISPUTED and claim.reopened == 1
    assert not claim.appeal_pending  # not a reviewer's work: the jury's
    jurors = set(claim.round_jury().values_list("member_id", flat=True))
    assert len(jurors) == 3
    assert not jurors & earlier_jurors and pool[0].member_id not in jurors
    assert JuryDraw.objects.get(claim=claim, round=1).drawn_at is not None
    for member_id in jurors:
        jury_vote(claim_id=claim.pk, member_id=member_id, vote="approve", now=now)
    claim.refresh_from_db()
    filed.refresh_from_db()
    assert claim.state == ClaimState.APPROVED
    assert filed.status == AppealStatus.UPHELD and filed.decided_by is None
    assert Notice.objects.filter(event=f"appeal:{filed.pk}:upheld").count() == 1


def test_an_appeal_jury_that_refuses_is_final(appealed):
    from claims.models import AppealStatus
    from claims.review import appeal_file

    claim, pool, filed, _earlier, now = appealed
    for member_id in claim.round_jury().values_list("member_id", flat=True):
        jury_vote(claim_id=claim.pk, member_id=member_id, vote="reject", now=now)
    claim.refresh_from_db()
    filed.refresh_from_db()
    assert claim.state == ClaimState.REJECTED
    assert filed.status == AppealStatus.DISMISSED
    with pytest.raises(ServiceError, match="final"):
        later = now + datetime.timedelta(days=1)
        appeal_file(claim_id=claim.pk, reason="again", by=pool[0].member.user, now=later)
