"""What every API view shares: errors as JSON with field messages, members-only access."""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from rest_framework import permissions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from mutual.core.errors import ServiceError


def exception_handler(exc, context):
    """Service errors are the client's fault (400 with the field and rule); state conflicts
    are 409; a missing or foreign object is 404 — never a 500 for bad input. An InvariantError
    is not handled here: it reaches Django, which answers 500 and logs it as an error."""
    if isinstance(exc, ServiceError):
        return Response({**exc.as_dict(), "code": exc.code}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, TransitionNotAllowed | ConcurrentTransition):
        return Response(
            {"detail": "not possible in the current state", "code": "conflict"},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, ObjectDoesNotExist):
        exc = Http404()
    if isinstance(exc, DjangoPermissionDenied):
        return Response({"detail": str(exc) or "not allowed"}, status=status.HTTP_403_FORBIDDEN)
    # Imported here: DRF's views read this module's negotiation class (DRF settings) when
    # they are first imported, so this module must not import them at its top.
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)


class JSONWhateverTheClientAccepts(DefaultContentNegotiation):
    """Every /api/ answer is JSON: an `Accept: text/html` or `?format=api` gets JSON (its 404,
    its 400), not a 406. Parsers are still chosen by the request's Content-Type."""

    def select_renderer(self, request, renderers, format_suffix=None):
        asked = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if asked and asked != renderers[0].format:
            raise Http404  # answered in JSON (DRF then renders with the first renderer)
        return renderers[0], renderers[0].media_type


class IsMember(permissions.BasePermission):
    message = "this login has no member profile"

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and _member(request.user))


def _member(user):
    """The login's member profile, or None (read through the relation: no app is imported)."""
    try:
        return user.member
    except ObjectDoesNotExist:
        return None


def current_member(request):
    """The current login's members.Member (views behind IsMember have one)."""
    return request.user.member


class MemberScoped:
    """A viewset over what the current member may see: their own objects, or the public cases
    of their plans. Any other id answers 404. Subclasses set `queryset` (for the schema) and
    write `for_member(member)`."""

    permission_classes = [IsMember]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no member
            return self.queryset.none()
        return self.for_member(current_member(self.request))

    def get_throttles(self):
        # Writes are throttled; reads are not.
        writes = self.request.method not in permissions.SAFE_METHODS
        return super().get_throttles() if writes else []


@csrf_exempt  # it changes nothing; a CSRF refusal would be Django's HTML page
def api_not_found(request, *args, **kwargs):
    """Every /api/ path no route takes (the last URL pattern): a JSON 404 in DRF's shape.

    Being a catch-all, it hides unknown paths from CommonMiddleware's APPEND_SLASH, so it
    redirects `/api/plans` to `/api/plans/` itself when that names a real endpoint."""
    if settings.APPEND_SLASH and not request.path_info.endswith("/"):
        try:
            match = resolve(f"{request.path_info}/", getattr(request, "urlconf", None))
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            return HttpResponsePermanentRedirect(
                request.get_full_path(force_append_slash=True),
                content=b'{"detail": "Moved permanently."}',
                content_type="application/json",
            )
    return JsonResponse({"detail": "Not found."}, status=404)
