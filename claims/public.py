"""A jury draw, public and without login: its commitment, the seed once the claim is decided,
the jurors' pseudonyms and the eligible list, so that anyone can recompute it
(`python -m mutual.jury`). Thin: claims/jury.py reads."""

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from claims import jury
from claims.models import JuryDraw


class PublicJuryView(APIView):
    """A jury draw by its commitment (SHA-256 of its seed, shown on the public case)."""

    permission_classes = [permissions.AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, commitment: str):
        draw = get_object_or_404(
            JuryDraw.objects.defer("eligible").select_related("claim"), commitment=commitment
        )
        return Response(jury.public_draw(draw))


def eligible_list(request, commitment: str):
    """The eligible members' pseudonyms, sorted, one (64 hex digits) a line."""
    draw = get_object_or_404(
        JuryDraw.objects.defer("eligible"), commitment=commitment, drawn_at__isnull=False
    )
    return StreamingHttpResponse(jury.eligible_lines(draw), content_type="text/plain")
