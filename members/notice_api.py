"""A member's notices (newest first, paginated) and what they want to be told."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from mutual.core.api import IsMember, current_member
from mutual.core.parsers import JSONParser
from notifications import services
from notifications.messages import render
from notifications.models import Notice, NotificationPreference


class NoticeOutput(serializers.ModelSerializer):
    kind = serializers.CharField(
        read_only=True, help_text="claim, jury, digest, bill, debit_failed or lapse"
    )
    status = serializers.CharField(
        read_only=True, help_text="pending, sending, sent, failed or skipped"
    )
    subject = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()

    class Meta:
        model = Notice
        fields = ["id", "kind", "event", "subject", "body", "payload", "status", "created_at",
                  "sent_at"]  # fmt: skip

    def get_subject(self, notice) -> str:
        return self._rendered(notice)[0]

    def get_body(self, notice) -> str:
        return self._rendered(notice)[1]

    def _rendered(self, notice) -> tuple[str, str]:
        # Subject and body come from one rendering of the notice, not one each.
        if getattr(notice, "_rendered", None) is None:
            notice._rendered = render(notice.kind, notice.payload)
        return notice._rendered


class MyNotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """My notices, newest first."""

    permission_classes = [IsMember]
    serializer_class = NoticeOutput
    filter_backends = []

    def get_queryset(self):
        # The household's: a dependant's notices are their account holder's to read.
        from members.households import household_of

        household = household_of(current_member(self.request)).values("pk")
        return Notice.objects.filter(member__in=household).order_by("-id")


class PreferencesSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationPreference
        fields = ["claim", "jury", "digest", "bill", "debit_failed", "lapse", "cover"]

    def to_internal_value(self, data):
        # JSON true or false only: DRF's BooleanField would also take 0, 1, "yes" or "off".
        if isinstance(data, dict):
            wrong = {
                name: ["Must be true or false."]
                for name in self.Meta.fields
                if name in data and not isinstance(data[name], bool)
            }
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)


class MyNotificationPreferencesView(APIView):
    """Which notices I receive (all by default). PUT or PATCH any of the switches, as JSON
    (true or false: a form's "0" or "off" is not a boolean)."""

    permission_classes = [IsMember]
    parser_classes = [JSONParser]

    @extend_schema(responses={200: PreferencesSerializer})
    def get(self, request):
        member = current_member(request)
        return Response(PreferencesSerializer(services.preferences_for(member_id=member.pk)).data)

    @extend_schema(request=PreferencesSerializer, responses={200: PreferencesSerializer})
    def patch(self, request):
        member = current_member(request)
        current = services.preferences_for(member_id=member.pk)
        serializer = PreferencesSerializer(current, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        saved = services.preferences_save(member_id=member.pk, changes=serializer.validated_data)
        return Response(PreferencesSerializer(saved).data)

    @extend_schema(request=PreferencesSerializer, responses={200: PreferencesSerializer})
    def put(self, request):
        return self.patch(request)
