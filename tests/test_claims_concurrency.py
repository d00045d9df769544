"""Races on real PostgreSQL: separate connections, committed data."""

import datetime
import threading

import pytest
from django.db import transaction
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from django_fsm_log.models import StateLog

from claims import services
from claims.models import Claim, ClaimState
from mutual.core.transitions import run_transition
from tests.claim_steps import after_window, to_publicized
from tests.conftest import run_concurrently
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory

NOW = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def approvals(claim) -> int:
    return StateLog.objects.for_(claim).filter(transition="approve").count()


def test_two_concurrent_approvals_through_the_service_only_one_wins(investigator, reviewer):
    claim = to_publicized(ClaimFactory(), investigator=investigator, now=NOW)
    moment = after_window(claim)
    results = run_concurrently(
        lambda: services.claim_approve(claim_id=claim.pk, by=reviewer, now=moment),
        lambda: services.claim_approve(claim_id=claim.pk, by=reviewer, now=moment),
    )
    winners = [r for r in results if isinstance(r, Claim)]
    losers = [r for r in results if isinstance(r, TransitionNotAllowed | ConcurrentTransition)]
    assert (len(winners), len(losers)) == (1, 1), results
    assert approvals(claim) == 1


def test_optimistic_lock_refuses_a_stale_save(investigator, reviewer):
    """Without the row lock, ConcurrentTransitionMixin alone stops the second writer."""
    claim = to_publicized(ClaimFactory(), investigator=investigator, now=NOW)
    moment = after_window(claim)
    both_loaded = threading.Barrier(2)

    def approve_from_a_stale_copy():
        with transaction.atomic():
            stale = Claim.objects.get(pk=claim.pk)
            both_loaded.wait()
            run_transition(stale.approve, by=reviewer, now=moment, reason="")
            stale.save()
            return stale

    results = run_concurrently(approve_from_a_stale_copy, approve_from_a_stale_copy)
    assert sum(isinstance(r, Claim) for r in results) == 1, results
    assert sum(isinstance(r, ConcurrentTransition) for r in results) == 1, results
    assert approvals(claim) == 1


def test_two_window_closers_at_once_close_each_window_exactly_once(investigator):
    plan = PlanFactory()
    claims = [
        to_publicized(
            ClaimFactory(membership=MembershipFactory(plan=plan)),
            investigator=investigator,
            now=NOW,
        )
        for _ in range(40)
    ]
    moment = after_window(claims[0])
    results = run_concurrently(
        lambda: services.claims_close_due_windows(now=moment, batch_size=7),
        lambda: services.claims_close_due_windows(now=moment, batch_size=7),
    )
    assert all(isinstance(r, dict) for r in results), results
    assert sum(r["approved"] for r in results) == 40
    assert Claim.objects.filter(state=ClaimState.APPROVED).count() == 40
    assert StateLog.objects.filter(transition="approve").count() == 40
