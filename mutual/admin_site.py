"""The admin site: Django's, plus a second factor for staff when MUTUAL_STAFF_2FA is on.

Read per request (not at import), so the setting can be changed in tests and the site is the
same object either way. With 2FA on, a staff user reaches the admin only in a session verified by
one of their OTP devices (django-otp's OTPAdminSite), and the login form asks for the code."""

from __future__ import annotations

from django import forms
from django.contrib.admin import AdminSite, ModelAdmin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from mutual.core.admin_tools import StrictLookupsMixin
from mutual.two_factor import device_for_code, two_factor_required

LOGIN_REFUSED = _(
    "Please enter a correct username, password and code (six digits from your authenticator "
    "app, or a recovery code). Staff without a second factor yet: ask an administrator to run "
    "`manage.py staff_2fa`."
)


class StaffLoginForm(OTPAdminAuthenticationForm):
    otp_token = forms.CharField(
        label=_("Code"),
        required=False,
        max_length=16,
        help_text=_("Six digits from your authenticator app, or one of your recovery codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text"}),
    )

    def clean(self):
        """Every refusal reads the same, and counts as a failed login: a right password with a
        bad, missing or unusable code is told exactly as a wrong password is. Otherwise the
        form itself would confirm a guessed password (django-otp answers "Invalid token" only
        once the password is right), and the lockout would arrive one guess later for it."""
        try:
            return super().clean()
        except forms.ValidationError:
            user = self.get_user()  # set only when the password was right
            if user is not None:
                self.user_cache = None
                user_login_failed.send(
                    sender=__name__,
                    credentials={"username": user.get_username()},
                    request=self.request,
                )
            raise forms.ValidationError(LOGIN_REFUSED, code="invalid_login") from None

    def _verify_token(self, user, token, device=None):
        # One verification at a time per device (its row locked till commit): a recovery code
        # is deleted once used and a TOTP code's time step recorded, so of two logins sent at
        # once with the same code, the second sees it spent.
        with transaction.atomic():
            return self._verify_locked(user, token, device)

    def _verify_locked(self, user, token, device):
        if device is None:
            device = device_for_code(user, token)
        if device is None:
            raise forms.ValidationError(
                _(
                    "Staff log in with a second factor, and this account has none yet: "
                    "ask an administrator to run `manage.py staff_2fa %(username)s`."
                )
                % {"username": user.get_username()},
                code="no_device",
            )
        return super()._verify_token(user, token, device)


class MutualAdminSite(OTPAdminSite):
    def __init__(self, name: str = "admin"):
        AdminSite.__init__(self, name)

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every list filters only by its declared filters, ours and other apps' alike (users,
        beat's tasks, the login log): StrictLookupsMixin is mixed into each admin class."""
        admin_class = admin_class or ModelAdmin
        if not issubclass(admin_class, StrictLookupsMixin):
            admin_class = type(
                admin_class.__name__,
                (StrictLookupsMixin, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        return super().register(model_or_iterable, admin_class, **options)

    @property
    def login_form(self):
        return StaffLoginForm if two_factor_required() else AdminAuthenticationForm

    @property
    def login_template(self):
        return "admin/login_2fa.html" if two_factor_required() else None

    def has_permission(self, request) -> bool:
        if two_factor_required():
            return super().has_permission(request)  # active staff, verified by a device
        return AdminSite.has_permission(self, request)
