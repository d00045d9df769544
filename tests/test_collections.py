import datetime

import pytest
from django_fsm_log.models import StateLog

from billing.debits import DebitResult, collect_chunk, lapse_unpaid
from billing.ledger import account_balance, account_for
from billing.models import ApportionmentPeriod, Bill, PeriodStatus
from billing.schedule import periods_claim_due, periods_ensure
from members.models import Membership, MembershipStatus
from tests.factories import PlanFactory
from tests.test_billing import approved_claim, members, period_for, run

pytestmark = pytest.mark.django_db
UTC = datetime.UTC


class DecliningGateway:
    """Declines the memberships it is told to; records every debit by reference."""

    def __init__(self, declined=()):
        self.declined, self.calls = set(declined), []

    def debit(self, *, account_id, membership_id, amount_fen, reference):
        self.calls.append(reference)
        if membership_id in self.declined:
            return DebitResult(ok=False, error="declined")
        return DebitResult(ok=True)


@pytest.fixture
def posted(investigator):
    plan = PlanFactory(payment_grace_days=15)
    members(plan, 4)
    approved_claim(plan, investigator, amount_fen=10_000)
    return run(period_for(plan))


def test_collection_debits_each_bill_once_and_posts_cash(posted):
    gateway = DecliningGateway()
    chunk = posted.chunks.get()
    moment = posted.cutoff_at + datetime.timedelta(hours=1)
    result = collect_chunk(chunk_id=chunk.pk, now=moment, gateway=gateway, batch_size=2)
    assert result == {"collected": 5, "failed": 0}
    assert collect_chunk(chunk_id=chunk.pk, now=moment, gateway=gateway) == {
        "collected": 0,
        "failed": 0,
    }
    assert len(gateway.calls) == len(set(gateway.calls)) == 5
    plan = posted.plan
    assert account_balance(account_for(plan=plan, role="cash")) == posted.charged_fen
    assert account_balance(account_for(plan=plan, role="receivable")) == 0


def test_a_declined_debit_is_retried_the_next_day_then_lapses_after_grace(posted):
    bill = Bill.objects.filter(period=posted).order_by("membership_id").first()
    gateway = DecliningGateway(declined={bill.membership_id})
    chunk = posted.chunks.get()
    day0 = posted.cutoff_at + datetime.timedelta(hours=1)
    assert collect_chunk(chunk_id=chunk.pk, now=day0, gateway=gateway)["failed"] == 1
    assert (
        collect_chunk(chunk_id=chunk.pk, now=day0 + datetime.timedelta(hours=1), gateway=gateway)[
            "failed"
        ]
        == 0
    )  # not due again yet
    assert (
        collect_chunk(chunk_id=chunk.pk, now=day0 + datetime.timedelta(days=1), gateway=gateway)[
            "failed"
        ]
        == 1
    )
    bill.refresh_from_db()
    assert (bill.debit_attempts, bill.paid_at, bill.last_debit_error) == (2, None, "declined")
    assert lapse_unpaid(period_id=posted.pk, now=day0 + datetime.timedelta(days=14)) == 0
    assert lapse_unpaid(period_id=posted.pk, now=day0 + datetime.timedelta(days=15)) == 1
    membership = Membership.objects.get(pk=bill.membership_id)
    assert membership.status == MembershipStatus.LAPSED
    assert StateLog.objects.for_(membership).get().transition == "lapse"
    assert Membership.objects.filter(plan=posted.plan, status="active").count() == 4


def test_due_periods_are_claimed_once_and_stale_runs_again():
    plan = PlanFactory()
    now = datetime.datetime(2018, 12, 7, tzinfo=UTC)
    assert periods_ensure(now=now) >= 1
    assert periods_ensure(now=now) == 0
    period = ApportionmentPeriod.objects.get(plan=plan)
    after_cutoff = period.cutoff_at + datetime.timedelta(minutes=1)
    assert period.pk in periods_claim_due(now=after_cutoff)
    assert periods_claim_due(now=after_cutoff) == []
    ApportionmentPeriod.objects.filter(pk=period.pk).update(status=PeriodStatus.RUNNING)
    assert periods_claim_due(now=after_cutoff + datetime.timedelta(minutes=5)) == []
    assert periods_claim_due(now=after_cutoff + datetime.timedelta(minutes=16)) == [period.pk]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_gateway_is_called_with_no_bill_locked_and_no_transaction_open(investigator):
    """Issue 21, item 9: collect_chunk called the gateway inside the batch's transaction,
    holding its bills locked: a slow gateway kept them locked. Now a batch is leased and
    committed first; another session can lock a bill while the gateway answers."""
    import threading

    from django.db import connection, connections

    plan = PlanFactory(payment_grace_days=15)
    members(plan, 3)
    approved_claim(plan, investigator, amount_fen=10_000)
    posted = run(period_for(plan))
    seen = []

    class Probing:
        def debit(self, *, account_id, membership_id, amount_fen, reference):
            bill_id = int(reference.split(":")[1])
            seen.append(connection.in_atomic_block)

            def lock():
                other = connections.create_connection("default")
                try:
                    with other.cursor() as cursor:
                        cursor.execute("BEGIN")
                        cursor.execute(
                            "SELECT 1 FROM billing_bill WHERE id = %s FOR UPDATE NOWAIT",
                            [bill_id],
                        )
                        seen.append("locked by the probe")
                        cursor.execute("ROLLBACK")
                finally:
                    other.close()

            thread = threading.Thread(target=lock)
            thread.start()
            thread.join(10)
            return DebitResult(ok=True)

    moment = posted.cutoff_at + datetime.timedelta(hours=1)
    result = collect_chunk(chunk_id=posted.chunks.get().pk, now=moment, gateway=Probing())
    assert result["collected"] == 4
    assert seen == [False, "locked by the probe"] * 4
    assert not Bill.objects.filter(period=posted, paid_at__isnull=True).exists()


def test_a_collector_that_dies_after_the_debit_leaves_it_to_be_recorded_once(posted):
    """The lease runs out and the bill is taken again: the gateway, told the same reference,
    does not debit twice, and the bill is recorded paid once."""
    from billing import debits

    chunk = posted.chunks.get()
    moment = posted.cutoff_at + datetime.timedelta(hours=1)
    real_record = debits._record
    gateway = DecliningGateway()

    def die(*args, **kwargs):
        raise RuntimeError("the worker was killed")

    debits._record = die
    try:
        with pytest.raises(RuntimeError):
            collect_chunk(chunk_id=chunk.pk, now=moment, gateway=gateway)
    finally:
        debits._record = real_record
    assert not Bill.objects.filter(period=posted, paid_at__isnull=False).exists()
    # Leased: not taken again before the lease ends.
    assert collect_chunk(chunk_id=chunk.pk, now=moment, gateway=gateway)["collected"] == 0
    later = moment + debits.CLAIM_LEASE + datetime.timedelta(seconds=1)
    assert collect_chunk(chunk_id=chunk.pk, now=later, gateway=gateway)["collected"] == 5
    assert len(set(gateway.calls)) == 5 and len(gateway.calls) == 10  # each reference twice
    plan = posted.plan
    assert account_balance(account_for(plan=plan, role="cash")) == posted.charged_fen
