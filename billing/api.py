"""My bills with their per-case breakdown, and each period's public report."""

from decimal import Decimal

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from billing.models import FINISHED, ApportionmentPeriod, Bill
from billing.proofs import bill_proof
from billing.selectors import bill_breakdown, bills_of, bills_version, period_cases
from members.api import PersonOutput
from mutual.core.api import MemberScoped, current_member
from mutual.core.conditional import conditional


class PeriodCaseOutput(serializers.Serializer):
    claim = serializers.IntegerField(source="claim_id")
    amount_fen = serializers.IntegerField()
    fee_fen = serializers.IntegerField()
    members_count = serializers.IntegerField()
    base_share_fen = serializers.IntegerField()
    recovered_fen = serializers.IntegerField()


class PeriodSummaryOutput(serializers.ModelSerializer):
    """A period without its cases (a bill in the list of my bills)."""

    plan_code = serializers.CharField(source="plan.code", read_only=True)
    total_fen = serializers.IntegerField(read_only=True)

    class Meta:
        model = ApportionmentPeriod
        fields = [
            "id",
            "plan",
            "plan_code",
            "starts_at",
            "cutoff_at",
            "status",
            "cases_total_fen",
            "fee_total_fen",
            "recovered_fen",
            "total_fen",
            "members_count",
            "charged_fen",
            "sponsor_fen",
            "posted_at",
        ]
        read_only_fields = fields


class PeriodOutput(PeriodSummaryOutput):
    cases = serializers.SerializerMethodField()

    class Meta(PeriodSummaryOutput.Meta):
        fields = [*PeriodSummaryOutput.Meta.fields, "cases"]
        read_only_fields = fields

    @extend_schema_field(PeriodCaseOutput(many=True))
    def get_cases(self, period):
        return PeriodCaseOutput(period_cases(period), many=True).data


class PeriodViewSet(viewsets.ReadOnlyModelViewSet):
    """Posted periods: the public report of what was shared and how."""

    serializer_class = PeriodOutput
    permission_classes = [permissions.AllowAny]
    filterset_fields = ["plan"]
    queryset = (
        ApportionmentPeriod.objects.filter(status__in=FINISHED)
        .select_related("plan")
        .order_by("-cutoff_at")
    )


class ExactFen(serializers.DecimalField):
    """An exact amount of fen (a fraction), shown to a millionth of a fen."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=24, decimal_places=6, **kwargs)

    def to_representation(self, value):
        return super().to_representation(Decimal(value.numerator) / Decimal(value.denominator))


class BreakdownOutput(serializers.Serializer):
    """One case of a bill, or (claim null) the rounding of the exact total to whole fen."""

    claim = serializers.IntegerField(source="claim_id", allow_null=True)
    share_fen = ExactFen()
    waived_fen = ExactFen()
    case_capped_fen = ExactFen()
    year_capped_fen = ExactFen()
    charged_fen = ExactFen()


class BillOutput(serializers.ModelSerializer):
    period = PeriodSummaryOutput(read_only=True)
    person = PersonOutput(source="membership.member", read_only=True)

    class Meta:
        model = Bill
        fields = [
            "period",
            "membership",
            "person",
            "cases_count",
            "gross_fen",
            "waived_fen",
            "capped_fen",
            "charged_fen",
            "paid_at",
        ]
        read_only_fields = fields


class BillDetailOutput(BillOutput):
    period = PeriodOutput(read_only=True)
    breakdown = serializers.SerializerMethodField()

    class Meta(BillOutput.Meta):
        fields = [*BillOutput.Meta.fields, "breakdown"]
        read_only_fields = fields

    @extend_schema_field(BreakdownOutput(many=True))
    def get_breakdown(self, bill):
        return BreakdownOutput(bill_breakdown(bill=bill), many=True).data


class ProofBillOutput(serializers.Serializer):
    gross_fen = serializers.IntegerField()
    waived_fen = serializers.IntegerField()
    capped_fen = serializers.IntegerField()
    charged_fen = serializers.IntegerField()


class ProofOutput(serializers.Serializer):
    """My bill as a leaf of the period's Merkle tree: check it with `python -m mutual.verify`."""

    period = serializers.IntegerField()
    pseudonym = serializers.CharField(help_text="HMAC-SHA256 of the period and my membership")
    bill = ProofBillOutput()
    leaf = serializers.CharField(help_text="the leaf's bytes, hex (see billing/tree.py)")
    leaf_index = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    audit_path = serializers.ListField(child=serializers.CharField())
    signed_head = serializers.DictField(help_text="head, Ed25519 signature, public key")


class MyBillViewSet(MemberScoped, viewsets.ReadOnlyModelViewSet):
    """My bills, newest first, without their cases; `/api/me/bills/{period}/` is one period's
    bill with its cases, broken down. Both carry an ETag and Last-Modified and answer 304 to
    a client that already has them (If-None-Match, If-Modified-Since)."""

    queryset = Bill.objects.all()
    lookup_field = "period"
    lookup_value_regex = r"\d+"
    validates_query = True  # ?membership= (mutual.core.schema: a bad one is a 400)

    def for_member(self, member):
        return bills_of(member)

    def get_serializer_class(self):
        return BillDetailOutput if self.action == "retrieve" else BillOutput

    def _conditional(self, request, respond, period_id=None):
        version, changed = bills_version(request.user.member, period_id=period_id)
        return conditional(request, version=version, last_modified=changed, respond=respond)

    @extend_schema(responses={200: BillOutput, 304: None})
    def list(self, request, *args, **kwargs):
        return self._conditional(request, lambda: super(MyBillViewSet, self).list(request))

    def _bill(self, period):
        """The household's bill of the period: the one for `?membership=` (a household can
        have one bill per person in a period), else the account holder's own, else the
        only one there is."""
        bills = self.get_queryset().filter(period_id=period)
        wanted = self.request.query_params.get("membership")
        if wanted is not None:
            try:
                membership_id = int(wanted)
            except ValueError:
                raise ValidationError({"membership": ["a membership id"]}) from None
            if not 0 < membership_id < 2**63:
                raise Http404
            bills = bills.filter(membership_id=membership_id)
        found = list(bills[:10])
        own = [b for b in found if b.membership.member_id == current_member(self.request).pk]
        if own:
            return own[0]
        if len(found) == 1:
            return found[0]
        if found:
            raise ValidationError(
                {"membership": ["this period has several bills in your household: choose one"]}
            )
        raise Http404

    @extend_schema(
        parameters=[OpenApiParameter("membership", int, required=False)],
        responses={200: BillDetailOutput, 304: None},
    )
    def retrieve(self, request, period=None, **kwargs):
        def respond():
            return Response(BillDetailOutput(self._bill(period)).data)

        return self._conditional(request, respond, period_id=int(period))

    @extend_schema(
        parameters=[OpenApiParameter("membership", int, required=False)],
        responses={200: ProofOutput},
    )
    @action(detail=True, methods=["get"])
    def proof(self, request, period=None, **kwargs):
        """A household bill's inclusion proof in the period's signed Merkle tree."""
        return Response(ProofOutput(bill_proof(bill=self._bill(period))).data)
