"""Members' API tokens (django-rest-knox): who may hold one, how a request is authenticated by
one, and their revocation when the password changes. The endpoints are in mutual/api_auth.py
(DRF's settings import this module, so it imports no view)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from knox.models import AuthToken
from rest_framework import exceptions


def may_hold_a_token(user) -> bool:
    return user.is_active and not (user.is_staff or user.is_superuser)


class MemberTokenAuthentication(TokenAuthentication):
    """knox's token check (hash, expiry, sliding refresh), refusing staff: a token issued
    before its holder became staff is no way around the admin's second factor."""

    def validate_user(self, auth_token):
        if not may_hold_a_token(auth_token.user):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return super().validate_user(auth_token)


class MemberTokenScheme(OpenApiAuthenticationExtension):
    """The schema's security scheme: `Authorization: Token <token>`."""

    target_class = MemberTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Token"
        )


def user_tokens_revoke(*, user_id: int) -> int:
    """Every API token of the login stops working. Returns how many were revoked."""
    deleted, _ = AuthToken.objects.filter(user_id=user_id).delete()
    return deleted


def revoke_tokens_on_password_change(sender, instance, raw=False, **kwargs) -> None:
    """pre_save of the user model: a changed password hash revokes the login's tokens (Django
    already ends its sessions, through the session's hash of the password)."""
    if raw or instance.pk is None:
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        user_tokens_revoke(user_id=instance.pk)


def connect() -> None:
    from django.db.models.signals import pre_save

    pre_save.connect(
        revoke_tokens_on_password_change,
        sender=get_user_model(),
        dispatch_uid="mutual.api_auth.revoke_tokens_on_password_change",
    )
