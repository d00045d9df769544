"""API tokens for members: hashed, expiring and revocable (django-rest-knox).

- `POST /api/auth/token/` (username, password) answers a token and its expiry. Only the token's
  SHA-512 is stored; it expires `MUTUAL_TOKEN_TTL_HOURS` after its last use (each use extends
  it, at most once a minute) and at the latest `MUTUAL_TOKEN_MAX_DAYS` after it was issued.
- `POST /api/auth/logout/` revokes the token it is sent with; `/api/auth/logout-all/` every
  token of the login. Changing the password revokes them all too.
- Staff get no token: they work in the admin, behind their second factor. A staff login's
  right password is answered exactly as a wrong one (and counted as a failure), so the API
  does not tell an attacker that a guessed staff password is right; a token held by someone
  who became staff afterwards stops working.
- A success clears that account's failed logins from that address only
  (mutual.login_guard.login_failures_clear)."""

from __future__ import annotations

from django.contrib.auth.signals import user_login_failed
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from knox import views as knox_views
from knox.models import AuthToken
from knox.settings import knox_settings
from rest_framework import exceptions, serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from mutual.login_guard import LOCKED_OUT, client_ip, login_failures_clear
from mutual.token_auth import MemberTokenAuthentication, may_hold_a_token

TokenOutput = inline_serializer(
    "TokenOutput",
    {
        "token": serializers.CharField(),
        "expiry": serializers.DateTimeField(help_text="Moves forward each time the token is used"),
    },
)


class ObtainToken(APIView):
    """A member's API token, for their username and password."""

    permission_classes = []
    authentication_classes = []
    # Guessing passwords must be slow.
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    # Ours: the JSON parser refuses deep nesting.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    serializer_class = AuthTokenSerializer

    @extend_schema(request=AuthTokenSerializer, responses={200: TokenOutput})
    def post(self, request, *args, **kwargs):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        try:
            serializer.is_valid(raise_exception=True)
        except exceptions.ValidationError:
            # django-axes flags the request it authenticated (DRF's, which its middleware never
            # sees): a locked-out account or address is told so, even with the right password.
            if getattr(request, "axes_locked_out", False):
                raise exceptions.Throttled(detail=LOCKED_OUT) from None
            raise
        user = serializer.validated_data["user"]
        if not may_hold_a_token(user):
            # Told as a wrong password is told, and counted as one (axes listens).
            user_login_failed.send(
                sender=__name__,
                credentials={"username": user.get_username()},
                request=request._request,
            )
            raise exceptions.ValidationError(
                {"non_field_errors": [_("Unable to log in with provided credentials.")]},
                code="authorization",
            )
        login_failures_clear(username=user.get_username(), ip_address=client_ip(request))
        instance, token = AuthToken.objects.create(
            user=user, expiry=knox_settings.TOKEN_TTL, prefix=knox_settings.TOKEN_PREFIX
        )
        _keep_newest(user, knox_settings.TOKEN_LIMIT_PER_USER)
        return Response({"token": token, "expiry": instance.expiry})


def _keep_newest(user, limit: int | None) -> None:
    """A login keeps at most `limit` tokens (devices): a new one revokes the oldest."""
    if limit:
        newest = AuthToken.objects.filter(user=user).order_by("-created", "-pk")[:limit]
        AuthToken.objects.filter(user=user).exclude(pk__in=newest.values("pk")).delete()


class RevokeToken(knox_views.LogoutView):
    """Revoke the token this request is sent with."""

    authentication_classes = [MemberTokenAuthentication]

    @extend_schema(request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format=format)


class RevokeAllTokens(knox_views.LogoutAllView):
    """Revoke every token of this login (every device)."""

    authentication_classes = [MemberTokenAuthentication]

    @extend_schema(request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format=format)
