"""Plans (public), my member profile, my memberships: join and withdraw."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from members import services
from members.households import dependant_add, household_of
from members.models import CoverBand, EndReason, Member, Membership, Plan, Relationship
from mutual.core.api import IsMember, MemberScoped, current_member
from mutual.core.fields import StrictBooleanField, StrictCharField
from mutual.core.parsers import JSONParser


class PlanOutput(serializers.ModelSerializer):
    class CoverBandOutput(serializers.ModelSerializer):
        class Meta:
            model = CoverBand
            fields = ["max_age_years", "cover_fen"]

    cover_bands = CoverBandOutput(many=True, read_only=True)

    class Meta:
        model = Plan
        fields = [
            "id",
            "code",
            "name",
            "accepting_members",
            "min_credit_score",
            "min_age_days",
            "min_age_years",
            "max_age_years",
            "age_successor",
            "illness_waiting_days",
            "accident_waiting_days",
            "management_fee_bp",
            "per_case_cap_fen",
            "yearly_cap_fen",
            "publicity_days",
            "dispute_review",
            "cover_bands",
        ]


class PlanViewSet(viewsets.ReadOnlyModelViewSet):
    """Plans and their rules; public."""

    queryset = Plan.objects.prefetch_related("cover_bands").order_by("code")
    serializer_class = PlanOutput
    permission_classes = [permissions.AllowAny]
    filterset_fields = ["accepting_members"]


class MemberOutput(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True, allow_null=True)
    # Masked even to its owner: an API answer is easily logged or cached on the way.
    national_id_masked = serializers.CharField(read_only=True)

    class Meta:
        model = Member
        fields = [
            "id",
            "username",
            "full_name",
            "relationship",
            "national_id_masked",
            "birth_date",
            "created_at",
        ]


class PersonOutput(serializers.ModelSerializer):
    """Whom a membership, a bill or a claim is for: a person of my household."""

    class Meta:
        model = Member
        fields = ["id", "full_name", "relationship"]
        read_only_fields = fields


class MembershipOutput(serializers.ModelSerializer):
    plan_code = serializers.CharField(source="plan.code", read_only=True)
    person = PersonOutput(source="member", read_only=True)
    end_reason = serializers.ChoiceField(
        choices=EndReason.choices, allow_blank=True, read_only=True, help_text="empty while live"
    )

    class Meta:
        model = Membership
        fields = [
            "id",
            "person",
            "plan",
            "plan_code",
            "status",
            "joined_at",
            "waiting_until",
            "cover_fen",
            "ended_at",
            "end_reason",
            "move_at_age_limit",
        ]
        read_only_fields = fields


class JoinInput(serializers.Serializer):
    plan = serializers.IntegerField(min_value=1)
    member = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        help_text="A dependant of my household (default: me)",
    )


class MembershipChoiceInput(serializers.Serializer):
    move_at_age_limit = StrictBooleanField(
        required=False,
        help_text="At the plan's maximum age, move to its successor plan (true by default)",
    )


class MembershipViewSet(
    MemberScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """My household's memberships (mine and my dependants'). Joining checks eligibility; a
    refusal names the rule that failed. Only I am credit-scored; each person's age is checked
    against the plan they join."""

    queryset = Membership.objects.all()
    serializer_class = MembershipOutput
    filterset_fields = ["status", "plan"]
    throttle_scope = "writes"

    def for_member(self, member):
        return (
            Membership.objects.filter(member__in=household_of(member))
            .select_related("plan", "member")
            .order_by("-joined_at", "-pk")
        )

    @extend_schema(request=JoinInput, responses={201: MembershipOutput})
    def create(self, request):
        data = JoinInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_join(
            member_id=data.validated_data.get("member", current_member(request).pk),
            plan_id=data.validated_data["plan"],
            by=request.user,
            now=timezone.now(),
        )
        return Response(MembershipOutput(membership).data, status=status.HTTP_201_CREATED)

    def get_parsers(self):
        # The member's choice is a JSON true or false (a form would send the text "true").
        if getattr(self, "action", None) == "partial_update":
            return [JSONParser()]
        return super().get_parsers()

    @extend_schema(request=MembershipChoiceInput, responses={200: MembershipOutput})
    def partial_update(self, request, pk=None):
        data = MembershipChoiceInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = self.get_object()
        if "move_at_age_limit" in data.validated_data:
            membership = services.membership_choose(
                membership_id=membership.pk,
                by=request.user,
                move_at_age_limit=data.validated_data["move_at_age_limit"],
            )
        return Response(MembershipOutput(membership).data)

    @extend_schema(request=None, responses={200: MembershipOutput})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        membership = self.get_object()
        membership = services.membership_withdraw(
            membership_id=membership.pk, by=request.user, now=timezone.now()
        )
        return Response(MembershipOutput(membership).data)


class MeView(APIView):
    """My member profile."""

    permission_classes = [IsMember]

    @extend_schema(responses={200: MemberOutput})
    def get(self, request):
        return Response(MemberOutput(current_member(request)).data)


class DependantInput(serializers.Serializer):
    full_name = StrictCharField(max_length=120)
    national_id = StrictCharField(max_length=32)
    birth_date = serializers.DateField()
    relationship = serializers.ChoiceField(
        choices=[(r.value, r.label) for r in Relationship if r != Relationship.SELF]
    )
    guardian_consent = StrictBooleanField(
        default=False,
        help_text="Required for a child under 14: my consent, as their guardian, to the "
        "processing of their personal and medical data",
    )


class DependantViewSet(
    MemberScoped,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The family members I cover and pay for: my spouse, children (from 30 days old) and
    parents. Adding one does not join a plan: POST /api/memberships/ with their id does.
    Removing one ends their cover now; their claims and bills stay."""

    queryset = Member.objects.all()
    serializer_class = MemberOutput
    throttle_scope = "writes"
    parser_classes = [JSONParser]  # the guardian's consent is a JSON true, not a form's "on"

    def for_member(self, member):
        return Member.objects.filter(payer=member, removed_at__isnull=True).order_by("pk")

    @extend_schema(request=DependantInput, responses={201: MemberOutput})
    def create(self, request):
        data = DependantInput(data=request.data)
        data.is_valid(raise_exception=True)
        dependant = dependant_add(by=request.user, now=timezone.now(), **data.validated_data)
        return Response(MemberOutput(dependant).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.dependant_remove(
            member_id=self.get_object().pk, by=request.user, now=timezone.now()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class HouseholdOutput(serializers.Serializer):
    holder = MemberOutput()
    dependants = MemberOutput(many=True)
    memberships = MembershipOutput(many=True)


class HouseholdView(APIView):
    """My household: me, the people I cover, and all our memberships."""

    permission_classes = [IsMember]

    @extend_schema(responses={200: HouseholdOutput})
    def get(self, request):
        member = current_member(request)
        people = list(household_of(member))
        holder = next(p for p in people if p.pk == member.account_holder_id)
        memberships = (
            Membership.objects.filter(member__in=people)
            .select_related("plan", "member")
            .order_by("member_id", "-joined_at")
        )
        return Response(
            HouseholdOutput(
                {
                    "holder": holder,
                    "dependants": [p for p in people if p.pk != holder.pk],
                    "memberships": memberships,
                }
            ).data
        )
