"""The demo's second factor: every demo staff login shares this published authenticator secret,
so that `make run` stays usable with two-factor login on. Never use it for a real account.

`python -m office.demo_totp` prints the current code (no Django set-up, no database)."""

from base64 import b32encode

from django_otp.oath import totp

DEMO_TOTP_KEY = b"mutual-demo-totp-key".hex()  # 20 bytes, as authenticator apps expect
DEMO_TOTP_SECRET = b32encode(bytes.fromhex(DEMO_TOTP_KEY)).decode()


def demo_code() -> str:
    return f"{totp(bytes.fromhex(DEMO_TOTP_KEY)):06d}"


if __name__ == "__main__":
    print(demo_code())
