from rest_framework import permissions, serializers, viewsets

from members.models import CoverBand, Plan


class PlanOutputSerializer(serializers.ModelSerializer):
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
            "cover_bands",
        ]


class PlanViewSet(viewsets.ReadOnlyModelViewSet):
    """Plans and their rules; public."""

    queryset = Plan.objects.prefetch_related("cover_bands").order_by("code")
    serializer_class = PlanOutputSerializer
    permission_classes = [permissions.AllowAny]
