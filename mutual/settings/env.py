"""Reading settings from the environment: a bad value stops the process, naming the variable."""

from __future__ import annotations

import importlib.util
import os

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false)")


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_import_path(name: str, default: str) -> str:
    """A dotted path to a class, `package.module.Class`, whose module must exist. That the module
    defines the class is checked when the apps are ready (members.apps), since importing it may
    need the models."""
    value = env_str(name, default)
    module, _, attribute = value.strip().rpartition(".")
    if not module or not all(part.isidentifier() for part in [*module.split("."), attribute]):
        raise ImproperlyConfigured(f"{name}={value!r} is not a dotted path to a class")
    try:
        spec = importlib.util.find_spec(module)
    except ImportError:
        spec = None
    except Exception:  # its package needs Django set up: members.apps checks it at startup
        return value.strip()
    if spec is None:
        raise ImproperlyConfigured(f"{name}={value!r}: there is no module {module!r}")
    return value.strip()


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """`X-Forwarded-Proto` (meaning `X-Forwarded-Proto: https`) or `Header=value`: the header
    that the TLS-terminating proxy sets, and strips from clients, on a secure request."""
    value = env_str(name)
    if value is None:
        return None
    header, _, secure_value = value.strip().partition("=")
    header, secure_value = header.strip(), secure_value.strip() or "https"
    if not header or not all(c.isalnum() or c == "-" for c in header):
        raise ImproperlyConfigured(f"{name}={value!r} is not a header name (X-Forwarded-Proto)")
    return f"HTTP_{header.upper().replace('-', '_')}", secure_value
