"""Staff two-factor login (django-otp): an authenticator app (TOTP) and single-use recovery codes.

Required for the admin when settings.MUTUAL_STAFF_2FA is on (the default whenever DEBUG is off).
A staff user is enrolled by `manage.py staff_2fa USERNAME`, which prints the authenticator's
provisioning URI and the recovery codes once; a superuser sees and removes devices in the admin."""

from __future__ import annotations

from base64 import b32encode
from binascii import unhexlify
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from mutual.core.errors import ServiceError

AUTHENTICATOR = "authenticator"
RECOVERY_CODES = "recovery codes"
RECOVERY_CODE_COUNT = 10


def two_factor_required() -> bool:
    return settings.MUTUAL_STAFF_2FA


@dataclass(frozen=True)
class Enrollment:
    username: str
    secret: str  # base32, as authenticator apps take it by hand
    config_url: str  # otpauth://totp/... (as a QR code, or pasted into the app)
    recovery_codes: list[str]


@transaction.atomic
def staff_2fa_enroll(
    *, username: str, key: str | None = None, recovery_codes: list[str] | None = None
) -> Enrollment:
    """Give a staff user a new authenticator secret and new recovery codes. Their old devices
    are removed: a lost phone or a used-up list is replaced, never added to. `key` (hex) and
    `recovery_codes` are for the demo only; real enrolments draw both at random."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ServiceError(f"there is no user {username!r}", code="unknown", field="username")
    if not user.is_staff:
        raise ServiceError(
            f"{username} is not staff: two-factor login guards the admin", code="not_staff"
        )
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    totp = TOTPDevice(user=user, name=AUTHENTICATOR, confirmed=True)
    if key is not None:
        totp.key = key
    totp.save()
    static = StaticDevice.objects.create(user=user, name=RECOVERY_CODES, confirmed=True)
    codes = recovery_codes or [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    return Enrollment(
        username=username,
        secret=b32encode(unhexlify(totp.key)).decode(),
        config_url=totp.config_url,
        recovery_codes=codes,
    )


def device_for_code(user, code: str):
    """Which of the user's devices a typed code is for: six digits come from the authenticator,
    anything else is a recovery code. Trying every device instead would count a failure against
    each one that does not match (django-otp throttles per device). Locks the device's row:
    call it inside a transaction."""
    code = code.strip()
    model = TOTPDevice if code.isascii() and code.isdigit() and len(code) == 6 else StaticDevice
    return model.objects.select_for_update().filter(user=user, confirmed=True).first()
