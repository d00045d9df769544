"""Why a request to the billing app's services is refused (periods, collections, recoveries
and the what-if): the stable `code` of each ServiceError, which the API answers with, the
admin shows and tests check (a str, so it compares and serialises as its value)."""

from django.db import models


class ErrorCode(models.TextChoices):
    AMOUNT = "amount"
    BEFORE_CUTOFF = "before_cutoff"
    CASES = "cases"
    CHUNKS_PENDING = "chunks_pending"
    EARLIER_PERIOD_UNFINISHED = "earlier_period_unfinished"
    ENQUEUED = "enqueued"
    EXPORT_IN_PROGRESS = "export_in_progress"
    EXPORT_NOT_READY = "export_not_ready"
    LATER_PERIOD_POSTED = "later_period_posted"
    MEMBERS = "members"
    NO_TREE = "no_tree"
    NOT_ACCOUNT_HOLDER = "not_account_holder"
    NOT_FAILED = "not_failed"
    NOT_OPEN = "not_open"
    NOT_PAID = "not_paid"
    NOT_RUNNING = "not_running"
    NOTHING_TO_RECOVER = "nothing_to_recover"
    YTD = "ytd"
