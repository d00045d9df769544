"""Why a request to the members app's services is refused (joining, leaving, households and plan
rules): the stable `code` of each ServiceError, which the API answers with, the admin shows and
tests check (a str, so it compares and serialises as its value)."""

from django.db import models


class ErrorCode(models.TextChoices):
    ALREADY_MEMBER = "already_member"
    ALREADY_REGISTERED = "already_registered"
    BAD_AGE = "bad_age"
    BAD_DATE = "bad_date"
    BAD_PURPOSE = "bad_purpose"
    BAD_RELATIONSHIP = "bad_relationship"
    CREDIT_SCORE = "credit_score"
    EFFECTIVE_BEFORE_LAST_CHANGE = "effective_before_last_change"
    EFFECTIVE_IN_FUTURE = "effective_in_future"
    EMPTY = "empty"
    GUARDIAN_CONSENT = "guardian_consent"
    HOLDER_NOT_COVERED = "holder_not_covered"
    NO_COVER_BAND = "no_cover_band"
    NOT_IN_HOUSEHOLD = "not_in_household"
    NOT_LIVE = "not_live"
    PERIOD_BILLED = "period_billed"
    PLAN_CLOSED = "plan_closed"
    REMOVED = "removed"
    SAME_PLAN = "same_plan"
    TOO_MANY = "too_many"
    TOO_OLD = "too_old"
    TOO_YOUNG = "too_young"
    UNKNOWN_PLAN = "unknown_plan"
