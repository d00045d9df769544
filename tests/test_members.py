import datetime
import threading
import time

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django_fsm import TransitionNotAllowed
from django_fsm_log.models import StateLog

from members import services
from members.models import Membership, MembershipStatus
from tests.conftest import FixedCreditScores, run_concurrently
from tests.factories import MemberFactory, MembershipFactory, PlanFactory, UserFactory

NOW = datetime.datetime(2018, 11, 20, 10, 0, tzinfo=datetime.UTC)
pytestmark = pytest.mark.django_db


def born(years: int = 0, days: int = 0) -> datetime.date:
    """A birth date that makes the member exactly this old on NOW."""
    day = NOW.date()
    return day.replace(year=day.year - years) - datetime.timedelta(days=days)


def join(member, plan, score=700, now=NOW):
    return services.membership_join(
        member_id=member.pk, plan_id=plan.pk, now=now, credit_provider=FixedCreditScores(score)
    )


class TestEligibility:
    def test_credit_score_at_minimum_joins(self, member, plan):
        assert join(member, plan, score=650).status == MembershipStatus.ACTIVE

    def test_credit_score_below_minimum_is_refused_naming_the_rule(self, member, plan):
        with pytest.raises(services.EligibilityError) as error:
            join(member, plan, score=649)
        assert error.value.code == "credit_score"
        assert "649" in error.value.message and "650" in error.value.message
        assert not Membership.objects.exists()

    def test_thirty_days_old_joins(self, plan):
        assert join(MemberFactory(birth_date=born(days=30)), plan)

    def test_twenty_nine_days_old_is_refused(self, plan):
        with pytest.raises(services.EligibilityError) as error:
            join(MemberFactory(birth_date=born(days=29)), plan)
        assert error.value.code == "too_young"

    def test_fifty_nine_joins_with_the_lower_cover(self, plan):
        membership = join(MemberFactory(birth_date=born(years=59)), plan)
        assert membership.cover_fen == 100_000_00

    def test_sixty_is_refused(self, plan):
        with pytest.raises(services.EligibilityError) as error:
            join(MemberFactory(birth_date=born(years=60)), plan)
        assert error.value.code == "too_old"

    @pytest.mark.parametrize(
        ("age", "cover_fen"), [(0, 300_000_00), (39, 300_000_00), (40, 100_000_00)]
    )
    def test_cover_by_age_band(self, plan, age, cover_fen):
        member = MemberFactory(birth_date=born(years=age, days=40 if age == 0 else 0))
        assert join(member, plan).cover_fen == cover_fen

    def test_closed_plan_refuses(self, member):
        with pytest.raises(services.EligibilityError) as error:
            join(member, PlanFactory(accepting_members=False))
        assert error.value.code == "plan_closed"

    def test_second_live_membership_in_the_same_plan_is_refused(self, member, plan):
        join(member, plan)
        with pytest.raises(services.EligibilityError) as error:
            join(member, plan)
        assert error.value.code == "already_member"
        assert Membership.objects.filter(member=member).count() == 1

    def test_the_database_enforces_one_live_membership(self, membership):
        with pytest.raises(IntegrityError), transaction.atomic():
            MembershipFactory(member=membership.member, plan=membership.plan)

    def test_rejoining_after_withdrawal_is_allowed(self, member, plan):
        first = join(member, plan)
        services.membership_withdraw(membership_id=first.pk, by=member.user, now=NOW)
        assert join(member, plan, now=NOW + datetime.timedelta(days=1)).pk != first.pk

    def test_joining_two_plans_is_allowed(self, member):
        join(member, PlanFactory())
        join(member, PlanFactory())
        assert member.memberships.count() == 2

    def test_waiting_period_is_set_from_the_plan(self, member):
        membership = join(member, PlanFactory(illness_waiting_days=90))
        assert membership.waiting_until == NOW + datetime.timedelta(days=90)
        assert membership.joined_at == membership.in_pool_since == NOW


class TestWaitingPeriod:
    def test_illness_inside_the_waiting_period_is_not_covered(self, member, plan):
        membership = join(member, plan)
        day_89 = NOW + datetime.timedelta(days=89)
        assert not services.membership_is_covered(
            membership, incident_kind="illness", diagnosed_at=day_89
        )

    def test_illness_after_the_waiting_period_is_covered(self, member, plan):
        membership = join(member, plan)
        day_90 = NOW + datetime.timedelta(days=90)
        assert services.membership_is_covered(
            membership, incident_kind="illness", diagnosed_at=day_90
        )

    def test_accident_is_covered_at_once(self, member, plan):
        membership = join(member, plan)
        assert services.membership_is_covered(
            membership, incident_kind="accident", diagnosed_at=NOW
        )

    def test_nothing_is_covered_after_withdrawal(self, member, plan):
        membership = join(member, plan)
        membership = services.membership_withdraw(
            membership_id=membership.pk, by=member.user, now=NOW
        )
        assert not services.membership_is_covered(
            membership, incident_kind="accident", diagnosed_at=NOW
        )


class TestLeaving:
    def test_member_withdraws_with_a_log_row(self, membership):
        user = membership.member.user
        result = services.membership_withdraw(membership_id=membership.pk, by=user, now=NOW)
        assert (result.status, result.ended_at) == (MembershipStatus.WITHDRAWN, NOW)
        log = StateLog.objects.for_(result).get()
        assert (log.transition, log.by, log.state) == ("withdraw", user, "withdrawn")

    def test_another_user_cannot_withdraw_someone_elses_membership(self, membership):
        with pytest.raises(PermissionDenied):
            services.membership_withdraw(membership_id=membership.pk, by=UserFactory(), now=NOW)
        membership.refresh_from_db()
        assert membership.status == MembershipStatus.ACTIVE

    def test_withdrawn_cannot_withdraw_again(self, membership):
        user = membership.member.user
        services.membership_withdraw(membership_id=membership.pk, by=user, now=NOW)
        with pytest.raises(TransitionNotAllowed):
            services.membership_withdraw(membership_id=membership.pk, by=user, now=NOW)

    def test_system_lapses_with_the_reason_logged(self, membership):
        result = services.membership_lapse(
            membership_id=membership.pk, by=None, now=NOW, reason="unpaid past grace"
        )
        assert result.status == MembershipStatus.LAPSED
        assert StateLog.objects.for_(result).get().description == "unpaid past grace"

    def test_log_rows_carry_the_services_now_not_the_wall_clock(self, membership):
        moment = datetime.datetime(2018, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)
        services.membership_lapse(membership_id=membership.pk, by=None, now=moment, reason="x")
        assert StateLog.objects.for_(membership).get().timestamp == moment

    def test_a_member_cannot_lapse_themselves(self, membership):
        with pytest.raises(PermissionDenied):
            services.membership_lapse(
                membership_id=membership.pk, by=membership.member.user, now=NOW, reason="x"
            )

    def test_status_cannot_be_assigned_directly(self, membership):
        with pytest.raises(AttributeError):
            membership.status = MembershipStatus.LAPSED


class TestPlanMigration:
    def test_members_move_keeping_seniority_and_waiting_progress(self):
        old, new = PlanFactory(), PlanFactory()
        moving = MembershipFactory(plan=old)
        staying = MembershipFactory(plan=old)
        moved = services.plan_migrate(
            from_plan_id=old.pk,
            to_plan_id=new.pk,
            by=None,
            now=NOW,
            member_ids=[moving.member_id],
        )
        assert moved == 1
        successor = Membership.objects.get(plan=new)
        assert successor.member_id == moving.member_id
        assert successor.joined_at == moving.joined_at
        assert successor.waiting_until == moving.waiting_until
        assert successor.cover_fen == moving.cover_fen
        assert successor.in_pool_since == NOW
        assert successor.migrated_from_id == moving.pk
        moving.refresh_from_db()
        staying.refresh_from_db()
        assert moving.status == MembershipStatus.WITHDRAWN and moving.ended_at == NOW
        assert staying.status == MembershipStatus.ACTIVE
        assert StateLog.objects.for_(moving).get().transition == "migrate"

    def test_migrating_everyone_twice_moves_nobody_the_second_time(self):
        old, new = PlanFactory(), PlanFactory()
        MembershipFactory.create_batch(3, plan=old)
        assert services.plan_migrate(from_plan_id=old.pk, to_plan_id=new.pk, by=None, now=NOW) == 3
        assert services.plan_migrate(from_plan_id=old.pk, to_plan_id=new.pk, by=None, now=NOW) == 0
        assert Membership.objects.filter(plan=new, status="active").count() == 3

    def test_a_member_already_in_the_new_plan_is_not_duplicated(self):
        old, new = PlanFactory(), PlanFactory()
        both = MembershipFactory(plan=old)
        MembershipFactory(plan=new, member=both.member)
        assert services.plan_migrate(from_plan_id=old.pk, to_plan_id=new.pk, by=None, now=NOW) == 0
        both.refresh_from_db()
        assert both.status == MembershipStatus.ACTIVE

    def test_only_staff_may_migrate(self):
        old, new = PlanFactory(), PlanFactory()
        with pytest.raises(PermissionDenied):
            services.plan_migrate(from_plan_id=old.pk, to_plan_id=new.pk, by=UserFactory(), now=NOW)

    def test_both_plans_are_locked_for_update(self):
        old, new = PlanFactory(), PlanFactory()
        MembershipFactory(plan=old)
        with CaptureQueriesContext(connection) as queries:
            services.plan_migrate(from_plan_id=old.pk, to_plan_id=new.pk, by=None, now=NOW)
        locks = [q["sql"] for q in queries if 'FROM "members_plan"' in q["sql"]]
        assert any("FOR UPDATE" in sql for sql in locks), locks


def _wait_until_blocking(pid: int, *, gave_up: threading.Event) -> bool:
    """True once the backend `pid` waits for a lock held by this connection's transaction;
    False if `gave_up` is set first (the other side finished without waiting)."""
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while time.monotonic() < deadline and not gave_up.is_set():
            cursor.execute("SELECT pg_backend_pid() = ANY(pg_blocking_pids(%s))", [pid])
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_join_to_a_plan_being_migrated_waits_for_the_migration():
    """The migration holds both plans FOR UPDATE until it commits, so a membership in either
    plan (its foreign key takes a share lock on the plan) cannot commit in between."""
    old, new = PlanFactory(), PlanFactory()
    MembershipFactory(plan=old)
    joiner = MemberFactory()
    join_pid: list[int] = []
    pid_known, migrated, join_finished = threading.Event(), threading.Event(), threading.Event()

    def migrate():
        pid_known.wait(30)
        with transaction.atomic():
            moved = services.plan_migrate(from_plan_id=old.pk, to_plan_id=new.pk, by=None, now=NOW)
            migrated.set()
            join_waited = _wait_until_blocking(join_pid[0], gave_up=join_finished)
        return moved, join_waited

    def join_the_old_plan():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                join_pid.append(cursor.fetchone()[0])
            pid_known.set()
            migrated.wait(30)
            return join(joiner, old)
        finally:
            join_finished.set()

    migration, joined = run_concurrently(migrate, join_the_old_plan)
    assert migration == (1, True), (migration, joined)
    assert isinstance(joined, Membership), joined
    assert Membership.objects.filter(plan=new, status="active").count() == 1
