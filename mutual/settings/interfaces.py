"""The member API (REST framework, its schema, members' tokens) and the shared cache."""

from __future__ import annotations

import datetime

from django.core.exceptions import ImproperlyConfigured

from mutual.settings.base import REDIS_URL
from mutual.settings.env import env_int, env_str
from mutual.settings.logins import TRUSTED_PROXIES

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
        # A copy of my data (billing/exports.py): an archive is costly to build.
        "data-export": env_str("MUTUAL_THROTTLE_DATA_EXPORT", "3/day"),
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
        "EvidenceKindEnum": "claims.models.EvidenceKind",
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
