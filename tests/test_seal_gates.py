"""Bills are told at the seal, so nothing that acts on a bill comes before it: no debit, no
lapse (the grace counts from the telling), and the run of notices a late seal starts is not
taken for a lost one."""

import datetime
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured

from billing import apportion, selectors, steps
from billing.debits import collect_chunk, lapse_unpaid
from members.models import Membership, MembershipStatus
from notifications.models import NoticeRun
from tests.factories import PlanFactory
from tests.test_billing import approved_claim, members, period_for
from tests.test_collections import DecliningGateway

pytestmark = pytest.mark.django_db


def _posted_not_sealed(investigator, *, grace_days=15):
    plan = PlanFactory(payment_grace_days=grace_days)
    members(plan, 4)
    approved_claim(plan, investigator, amount_fen=10_000)
    period = period_for(plan)
    for chunk_id in apportion.period_pending_chunks(period_id=period.pk):
        apportion.chunk_apportion(chunk_id=chunk_id, now=period.cutoff_at)
    return steps.period_post(period_id=period.pk, now=period.cutoff_at)


def _seal_fails(period, settings):
    """The worker's environment lacks the signing key (checks run at `migrate`/`check`, not
    in the Celery worker nor gunicorn): the seal raises on every beat resend."""
    settings.MUTUAL_SIGNING_KEY = ""
    with pytest.raises(ImproperlyConfigured):
        steps.period_seal(period_id=period.pk, now=period.posted_at)
    period.refresh_from_db()
    assert period.merkle_root == ""
    assert not NoticeRun.objects.filter(event=f"bill:{period.pk}").exists()


def test_no_member_is_debited_for_a_bill_never_told(investigator, settings):
    """A period whose seal fails (bill notices wait for it) has none of its bills debited,
    and collect_due does not even list it; once sealed, they are."""
    posted = _posted_not_sealed(investigator)
    _seal_fails(posted, settings)
    gateway = DecliningGateway()
    later = posted.posted_at + datetime.timedelta(days=1)
    for chunk_id in posted.chunks.values_list("pk", flat=True):
        collect_chunk(chunk_id=chunk_id, now=later, gateway=gateway)
    assert gateway.calls == [], "members debited for a bill they were never told of"
    assert posted.pk not in selectors.periods_to_collect().values_list("pk", flat=True)
    settings.MUTUAL_SIGNING_KEY = "ab" * 32
    steps.period_seal(period_id=posted.pk, now=later)
    assert posted.pk in selectors.periods_to_collect().values_list("pk", flat=True)
    for chunk_id in posted.chunks.values_list("pk", flat=True):
        collect_chunk(chunk_id=chunk_id, now=later, gateway=gateway)
    assert len(gateway.calls) == posted.bills.filter(charged_fen__gt=0).count() > 0


def test_no_member_is_lapsed_for_a_bill_never_told(investigator, settings):
    """The grace counts from the telling (the seal), not the posting: a stuck seal lapses no
    one, and a seal ten days late leaves the members their fifteen days."""
    posted = _posted_not_sealed(investigator)
    _seal_fails(posted, settings)
    lapsed = lapse_unpaid(period_id=posted.pk, now=posted.posted_at + datetime.timedelta(days=15))
    assert lapsed == 0, f"{lapsed} member(s) lapsed for a bill never told"
    assert not Membership.objects.filter(plan=posted.plan, status=MembershipStatus.LAPSED).exists()
    settings.MUTUAL_SIGNING_KEY = "ab" * 32
    told = posted.posted_at + datetime.timedelta(days=10)
    steps.period_seal(period_id=posted.pk, now=told)
    day = datetime.timedelta(days=1)
    assert lapse_unpaid(period_id=posted.pk, now=told + 14 * day) == 0
    assert lapse_unpaid(period_id=posted.pk, now=told + 15 * day) > 0


def test_a_bill_run_made_by_a_late_seal_is_not_restarted_as_stale(investigator):
    """notify_bills_posted records the run with created_at = posted_at. A seal that lands more
    than 15 minutes after the posting (a beat resend, a seal waiting for the previous period's)
    makes a run that sweep_notices takes for a lost one at once, and fans it out a second time
    beside the task the seal's commit sent."""
    from notifications import tasks

    posted = _posted_not_sealed(investigator)
    late = posted.posted_at + datetime.timedelta(minutes=20)
    sealed = steps.period_seal(period_id=posted.pk, now=late)
    assert sealed.merkle_root
    run = NoticeRun.objects.get(event=f"bill:{posted.pk}")
    assert run.started_at is None  # its notice_run task is on its way (on_commit)
    with mock.patch.object(tasks.notice_run, "delay") as delay:
        result = tasks.sweep_notices(now=late.isoformat())
    assert result["runs_restarted"] == 0 and not delay.called, (
        "a run created a second ago is restarted as stale: its created_at is the posting's"
    )
