"""A copy of my data, through the API: POST /api/me/data-export/ asks for one (202; a worker
builds it and I am told), GET says how the latest stands, GET .../download/ streams the zip.
(Asking is a POST: a GET must not start work; the issue's GET is the status.)"""

from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from billing import exports
from mutual.core.api import IsMember
from mutual.core.errors import ServiceError
from mutual.core.schema import ErrorOutput


class DataExportOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    requested_at = serializers.DateTimeField()
    ready_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    size = serializers.IntegerField()
    sha256 = serializers.CharField()


class MyDataExportView(APIView):
    """My household's data: everything held about me and the people I cover."""

    permission_classes = [IsMember]
    throttle_scope = "data-export"

    def get_throttles(self):
        # Asking is throttled (an archive is costly to build); looking is not.
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(responses={200: DataExportOutput, 404: ErrorOutput})
    def get(self, request):
        export = exports.data_export_latest(by=request.user)
        if export is None:
            return Response({"detail": "no export asked for yet"}, status=status.HTTP_404_NOT_FOUND)
        return Response(DataExportOutput(export).data)

    @extend_schema(request=None, responses={202: DataExportOutput, 409: ErrorOutput})
    def post(self, request):
        try:
            export = exports.data_export_request(by=request.user, now=timezone.now())
        except ServiceError as error:  # one is being prepared: a state, not bad input
            return Response({**error.as_dict(), "code": error.code}, status=409)
        return Response(DataExportOutput(export).data, status=status.HTTP_202_ACCEPTED)


class MyDataExportDownloadView(APIView):
    permission_classes = [IsMember]

    @extend_schema(responses={(200, "application/zip"): bytes, 404: ErrorOutput})
    def get(self, request):
        try:
            export, stored = exports.data_export_open(by=request.user, now=timezone.now())
        except ServiceError as error:  # nothing ready to download
            return Response({**error.as_dict(), "code": error.code}, status=404)
        return FileResponse(
            stored, as_attachment=True, filename=f"my-data-{export.pk}.zip",
            content_type="application/zip",
        )  # fmt: skip
