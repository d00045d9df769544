"""Plans (public), my member profile, my memberships: join and withdraw."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from members import services
from members.models import CoverBand, Member, Membership, Plan
from mutual.core.api import IsMember, MemberScoped, current_member


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
            "max_age_years",
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
    username = serializers.CharField(source="user.username", read_only=True)
    # Masked even to its owner: an API answer is easily logged or cached on the way.
    national_id_masked = serializers.CharField(read_only=True)

    class Meta:
        model = Member
        fields = ["id", "username", "full_name", "national_id_masked", "birth_date", "created_at"]


class MembershipOutput(serializers.ModelSerializer):
    plan_code = serializers.CharField(source="plan.code", read_only=True)

    class Meta:
        model = Membership
        fields = [
            "id",
            "plan",
            "plan_code",
            "status",
            "joined_at",
            "waiting_until",
            "cover_fen",
            "ended_at",
        ]
        read_only_fields = fields


class JoinInput(serializers.Serializer):
    plan = serializers.IntegerField(min_value=1)


class MembershipViewSet(
    MemberScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """My memberships. Joining checks eligibility; a refusal names the rule that failed."""

    queryset = Membership.objects.all()
    serializer_class = MembershipOutput
    filterset_fields = ["status", "plan"]
    throttle_scope = "writes"

    def for_member(self, member):
        return (
            Membership.objects.filter(member=member).select_related("plan").order_by("-joined_at")
        )

    @extend_schema(request=JoinInput, responses={201: MembershipOutput})
    def create(self, request):
        data = JoinInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_join(
            member_id=current_member(request).pk,
            plan_id=data.validated_data["plan"],
            now=timezone.now(),
        )
        return Response(MembershipOutput(membership).data, status=status.HTTP_201_CREATED)

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
