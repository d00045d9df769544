"""A jury draw, public and without login: its commitment, the seed once the claim is decided,
the jurors' pseudonyms and the eligible list in pages, so that anyone can recompute it
(`python -m mutual.jury`). Thin: claims/jury.py reads."""

from django.http import Http404, HttpResponse, HttpResponseNotModified
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


def eligible_page(request, commitment: str, page: str):
    """One page of the eligible members' pseudonyms, sorted: PAGE_SIZE 32-byte values
    back to back (the last page fewer). The pages never change once drawn: cached by anyone
    (a proxy, a CDN) for a year, and a repeated request with its ETag is a 304."""
    draw = get_object_or_404(
        JuryDraw.objects.defer("eligible"), commitment=commitment, drawn_at__isnull=False
    )
    etag = f'"{commitment[:32]}-{int(page)}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    else:
        try:
            body = jury.eligible_page(draw, int(page))
        except IndexError:
            raise Http404 from None
        response = HttpResponse(body, content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="eligible-{int(page)}.bin"'
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
