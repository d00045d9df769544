"""My household's consents: GET /api/me/consents/ lists them (withdrawn ones too, as history);
POST /api/me/consents/ gives one, POST /api/me/consents/withdraw/ withdraws one, for me or
someone I cover (`person`: their member id; a child under 14's as their guardian)."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from members import consents
from members.models import Consent, ConsentPurpose
from mutual.core.api import IsMember, current_member


class ConsentOutput(serializers.ModelSerializer):
    class Meta:
        model = Consent
        fields = ["id", "member", "purpose", "text_version", "given_at", "by_guardian",
                  "withdrawn_at"]  # fmt: skip


class ConsentInput(serializers.Serializer):
    person = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    purpose = serializers.ChoiceField(choices=ConsentPurpose.choices)


class MyConsentsView(APIView):
    permission_classes = [IsMember]
    throttle_scope = "writes"

    @extend_schema(responses={200: ConsentOutput(many=True)})
    def get(self, request):
        records = consents.household_consents(holder=current_member(request))
        return Response(ConsentOutput(records, many=True).data)

    @extend_schema(request=ConsentInput, responses={201: ConsentOutput})
    def post(self, request):
        data = ConsentInput(data=request.data)
        data.is_valid(raise_exception=True)
        consent = consents.consent_give(
            member_id=data.validated_data["person"],
            purpose=data.validated_data["purpose"],
            by=request.user,
            now=timezone.now(),
        )
        return Response(ConsentOutput(consent).data, status=status.HTTP_201_CREATED)


class MyConsentWithdrawView(APIView):
    permission_classes = [IsMember]
    throttle_scope = "writes"

    @extend_schema(request=ConsentInput, responses={200: ConsentOutput})
    def post(self, request):
        data = ConsentInput(data=request.data)
        data.is_valid(raise_exception=True)
        consent = consents.consent_withdraw(
            member_id=data.validated_data["person"],
            purpose=data.validated_data["purpose"],
            by=request.user,
            now=timezone.now(),
        )
        return Response(ConsentOutput(consent).data)
