import datetime

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from members.models import CoverBand, Member, Membership, Plan


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw")


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.LazyAttribute(lambda plan: plan.code.title())

    @factory.post_generation
    def bands(plan, create, extracted, **kwargs):
        if not create:
            return
        for max_age, cover_fen in extracted or [(39, 300_000_00), (59, 100_000_00)]:
            CoverBand.objects.create(plan=plan, max_age_years=max_age, cover_fen=cover_fen)


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    user = factory.SubFactory(UserFactory)
    full_name = factory.Sequence(lambda n: f"Member {n}")
    national_id = factory.Sequence(lambda n: f"ID{n:08d}")
    birth_date = datetime.date(1990, 5, 17)


class MembershipFactory(factory.django.DjangoModelFactory):
    """An active membership from mid-2018 (before the seed's case), waiting period long over."""

    class Meta:
        model = Membership

    member = factory.SubFactory(MemberFactory)
    plan = factory.SubFactory(PlanFactory)
    joined_at = datetime.datetime(2018, 6, 1, tzinfo=datetime.UTC)
    in_pool_since = factory.LazyAttribute(lambda m: m.joined_at)
    waiting_until = factory.LazyAttribute(lambda m: m.joined_at + datetime.timedelta(days=90))
    cover_fen = 300_000_00


class ClaimFactory(factory.django.DjangoModelFactory):
    """A submitted accident claim on an active membership."""

    class Meta:
        model = "claims.Claim"

    membership = factory.SubFactory(MembershipFactory)
    plan = factory.LazyAttribute(lambda claim: claim.membership.plan)
    incident_kind = "accident"
    incident_date = datetime.date(2018, 11, 18)
    diagnosis_date = datetime.date(2018, 11, 18)
    diagnosis = "craniotomy after a fall"
    hospital = "Xinhua Hospital"
    cover_fen = factory.LazyAttribute(lambda claim: claim.membership.cover_fen)
    amount_requested_fen = factory.LazyAttribute(lambda claim: claim.cover_fen)
    submitted_at = factory.LazyFunction(timezone.now)
