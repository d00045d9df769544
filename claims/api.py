"""My claims (with their history and evidence), and the public cases of my plans, anonymised."""

from django.core.cache import cache
from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from claims import disputes, evidence, requests, review, selectors, services
from claims.cover import conditions_in_force
from claims.models import (
    Appeal,
    Claim,
    Condition,
    EvidenceDocument,
    EvidenceKind,
    IncidentKind,
    InfoRequest,
    Reason,
    Vote,
)
from members.api import PersonOutput
from members.models import Plan
from mutual.core.api import MemberScoped, current_member
from mutual.core.conditional import conditional, etag_of


class EvidenceOutput(serializers.ModelSerializer):
    class Meta:
        model = EvidenceDocument
        fields = [
            "position",
            "kind",
            "content_type",
            "size",
            "sha256",
            "previous_link",
            "link_hash",
            "uploaded_at",
        ]


class InfoRequestOutput(serializers.ModelSerializer):
    """What the investigator asked me for, by when, and what I have sent against it."""

    received = serializers.SerializerMethodField()

    class Meta:
        model = InfoRequest
        fields = ["id", "documents", "note", "deadline", "status", "made_at", "closed_at",
                  "received"]  # fmt: skip
        read_only_fields = fields

    def get_received(self, request) -> list[str]:
        return sorted({document.kind for document in request.documents_received.all()})


class AppealOutput(serializers.ModelSerializer):
    class Meta:
        model = Appeal
        fields = ["id", "reason", "filed_at", "status", "decided_at", "note"]
        read_only_fields = fields


class AppealInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the refusal is wrong")


class ReasonOutput(serializers.ModelSerializer):
    class Meta:
        model = Reason
        fields = ["code", "text_en", "text_zh"]
        read_only_fields = fields


class HistoryOutput(serializers.Serializer):
    transition = serializers.CharField()
    state = serializers.CharField()
    timestamp = serializers.DateTimeField()
    description = serializers.CharField(allow_null=True)


class ConditionOutput(serializers.ModelSerializer):
    class Meta:
        model = Condition
        fields = ["code", "name_en", "name_zh", "category", "pays_fen"]
        read_only_fields = fields


class ClaimOutput(serializers.ModelSerializer):
    evidence = EvidenceOutput(many=True, read_only=True)
    history = serializers.SerializerMethodField()
    patient = PersonOutput(source="membership.member", read_only=True)
    condition = ConditionOutput(read_only=True, allow_null=True)
    reason = ReasonOutput(read_only=True, allow_null=True)
    requests = InfoRequestOutput(source="info_requests", many=True, read_only=True)
    appeals = AppealOutput(many=True, read_only=True)

    class Meta:
        model = Claim
        fields = [
            "id",
            "membership",
            "patient",
            "plan",
            "condition",
            "cover_fen",
            "state",
            "incident_kind",
            "incident_date",
            "incident_time",
            "diagnosis_date",
            "diagnosis",
            "hospital",
            "amount_requested_fen",
            "amount_approved_fen",
            "submitted_at",
            "publicity_starts_at",
            "publicity_ends_at",
            "decided_at",
            "reason",
            "decision_reason",
            "paid_at",
            "evidence",
            "requests",
            "appeals",
            "history",
        ]
        read_only_fields = fields

    @extend_schema_field(HistoryOutput(many=True))
    def get_history(self, claim):
        # Staff names are not shown to members: what happened and when.
        return HistoryOutput(selectors.claim_history(claim), many=True).data


class ClaimInput(serializers.Serializer):
    membership = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        help_text="The patient's membership: mine, or of someone I cover",
    )
    condition = serializers.SlugField(
        max_length=48,
        required=False,
        help_text="The condition's code, from the plan's list in force on the day of the event "
        "(GET /api/plans/{id}/conditions/)",
    )
    incident_kind = serializers.ChoiceField(choices=IncidentKind.choices)
    incident_date = serializers.DateField()
    incident_time = serializers.TimeField(
        required=False,
        allow_null=True,
        help_text="An accident's time of day, Shanghai: required for an accident on the day "
        "the membership began (covered only after the joining time)",
    )
    diagnosis_date = serializers.DateField()
    diagnosis = serializers.CharField(max_length=200)
    hospital = serializers.CharField(max_length=200)
    amount_requested_fen = serializers.IntegerField(min_value=1, max_value=10**12)


class EvidenceInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=EvidenceKind.choices)
    file = serializers.FileField()
    request = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        help_text="The request for information this document answers (see the claim's requests)",
    )


class ClaimViewSet(
    MemberScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """My claims. Another member's claim answers 404."""

    queryset = Claim.objects.all()
    serializer_class = ClaimOutput
    filterset_fields = ["state", "plan"]
    throttle_scope = "writes"

    def for_member(self, member):
        return selectors.claims_of(member)

    @extend_schema(request=ClaimInput, responses={201: ClaimOutput})
    def create(self, request):
        data = ClaimInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        claim = services.claim_submit(
            by=request.user, now=timezone.now(), membership_id=values.pop("membership"), **values
        )
        return Response(ClaimOutput(claim).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ClaimOutput})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        claim = services.claim_withdraw(
            claim_id=self.get_object().pk, by=request.user, now=timezone.now()
        )
        return Response(ClaimOutput(claim).data)

    @extend_schema(request={"multipart/form-data": EvidenceInput}, responses={201: EvidenceOutput})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def evidence(self, request, pk=None):
        claim = self.get_object()
        data = EvidenceInput(data=request.data)
        data.is_valid(raise_exception=True)
        document = evidence.evidence_append(
            claim_id=claim.pk,
            kind=data.validated_data["kind"],
            by=request.user,
            upload=data.validated_data["file"],
            now=timezone.now(),
            request_id=data.validated_data.get("request"),
        )
        return Response(EvidenceOutput(document).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AppealInput, responses={201: AppealOutput})
    @action(detail=True, methods=["post"])
    def appeal(self, request, pk=None):
        """Appeal a refusal, within 30 days of it: a reviewer who did not refuse it decides."""
        data = AppealInput(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = review.appeal_file(
            claim_id=self.get_object().pk,
            reason=data.validated_data["reason"],
            by=request.user,
            now=timezone.now(),
        )
        return Response(AppealOutput(appeal).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: InfoRequestOutput})
    @action(detail=True, methods=["post"], url_path=r"requests/(?P<request_id>[0-9]{1,18})/answer")
    def answer(self, request, pk=None, request_id=None):
        """I have sent what I can against this request: the claim's clock resumes."""
        answered = requests.request_answer(
            claim_id=self.get_object().pk,
            request_id=int(request_id),
            by=request.user,
            now=timezone.now(),
        )
        return Response(InfoRequestOutput(answered).data)


class PublicConditionOutput(serializers.ModelSerializer):
    class Meta:
        model = Condition
        fields = ["code", "name_en", "name_zh", "category"]
        read_only_fields = fields


class CaseOutput(serializers.ModelSerializer):
    """A public case: no names, no documents; what members need to judge it."""

    plan_code = serializers.CharField(source="plan.code", read_only=True)
    condition = PublicConditionOutput(read_only=True, allow_null=True)
    evidence = EvidenceOutput(many=True, read_only=True)
    disputes = serializers.IntegerField(source="dispute_count", read_only=True)

    class Meta:
        model = Claim
        fields = [
            "id",
            "plan",
            "plan_code",
            "condition",
            "state",
            "incident_kind",
            "incident_date",
            "diagnosis_date",
            "diagnosis",
            "hospital",
            "amount_approved_fen",
            "investigation_summary",
            "publicity_starts_at",
            "publicity_ends_at",
            "decided_at",
            "disputes",
            "evidence",
        ]
        read_only_fields = fields


class DisputeInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class DisputeOutput(serializers.Serializer):
    case = serializers.IntegerField(source="claim_id")
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class VoteInput(serializers.Serializer):
    vote = serializers.ChoiceField(choices=Vote.choices)


class CaseViewSet(MemberScoped, viewsets.ReadOnlyModelViewSet):
    """Publicized and decided cases of the plans I belong to (visible, not owned). The list
    carries an ETag and answers 304 to a client that already has it (If-None-Match); each page
    is cached under the version of the cases it shows."""

    queryset = Claim.objects.all()
    serializer_class = CaseOutput
    filterset_fields = ["state", "plan", "incident_kind"]
    throttle_scope = "writes"

    def for_member(self, member):
        return (
            selectors.cases_visible_to(member)
            .annotate(dispute_count=Count("disputes", distinct=True))
            .select_related("plan", "condition")
            .prefetch_related("evidence")
        )

    @extend_schema(responses={200: CaseOutput, 304: None})
    def list(self, request, *args, **kwargs):
        version = selectors.cases_fingerprint(selectors.cases_visible_to(current_member(request)))

        def respond():
            key = "cases-page:" + etag_of(request.get_host(), request.get_full_path(), *version)
            data = cache.get(key)
            if data is None:
                data = super(CaseViewSet, self).list(request).data
                cache.set(key, data, timeout=3600)
            return Response(data)

        return conditional(request, version=version, respond=respond)

    @extend_schema(request=DisputeInput, responses={201: DisputeOutput})
    @action(detail=True, methods=["post"])
    def disputes(self, request, pk=None):
        data = DisputeInput(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = disputes.dispute_raise(
            claim_id=self.get_object().pk,
            member_id=current_member(request).pk,
            reason=data.validated_data["reason"],
            now=timezone.now(),
        )
        return Response(DisputeOutput(dispute).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=VoteInput, responses={200: CaseOutput})
    @action(detail=True, methods=["post"])
    def votes(self, request, pk=None):
        data = VoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        case = self.get_object()
        disputes.jury_vote(
            claim_id=case.pk,
            member_id=current_member(request).pk,
            vote=data.validated_data["vote"],
            now=timezone.now(),
        )
        return Response(CaseOutput(self.get_queryset().get(pk=case.pk)).data)


class ConditionListOutput(serializers.ModelSerializer):
    class Meta:
        model = Condition
        fields = [
            "code", "name_en", "name_zh", "category", "pays_fen", "min_age_years",
            "max_age_years", "in_force_from", "in_force_until",
        ]  # fmt: skip
        read_only_fields = fields


class OnInput(serializers.Serializer):
    on = serializers.DateField(required=False, help_text="default: today (Shanghai)")


class PlanConditionsViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """A plan's covered conditions in force on a day (`?on=YYYY-MM-DD`, default today,
    Shanghai): what a claim may name, and what each pays. Public."""

    permission_classes = [permissions.AllowAny]
    serializer_class = ConditionListOutput
    queryset = Condition.objects.none()
    filter_backends = []
    validates_query = True  # ?on= (mutual.core.schema: a bad one is a 400)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Condition.objects.none()
        data = OnInput(data=self.request.query_params)
        data.is_valid(raise_exception=True)
        day = data.validated_data.get("on") or timezone.localdate()
        plan = get_object_or_404(Plan, pk=self.kwargs["plan_pk"])
        return conditions_in_force(plan_id=plan.pk, day=day).order_by("category", "code")

    @extend_schema(parameters=[OnInput])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
