"""Admin pieces shared by every app: lists that stay fast at ten million rows, read-only
views, amounts in yuan, bulk actions."""

import json

from django.contrib import admin, messages
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import EmptyResultSet, PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from mutual.core.errors import ServiceError
from mutual.core.money import format_yuan
from mutual.core.personal_data import blind_index

# Below this estimate an exact COUNT(*) is cheap enough to run.
EXACT_COUNT_BELOW = 50_000


class EstimatedCountPaginator(Paginator):
    """Counts with the planner's row estimate when it is large, so a changelist never scans
    millions of rows just to print page numbers. Small results get an exact count."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not hasattr(queryset, "query"):
            return super().count
        try:
            sql, params = queryset.query.sql_with_params()
        except EmptyResultSet:  # a filter that can match nothing (pk__in=[])
            return 0
        with connections[queryset.db].cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        if estimate < EXACT_COUNT_BELOW:
            return super().count
        return estimate


class FastChangeListMixin:
    """Mix into a ModelAdmin whose table can hold millions of rows."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50


class ReadOnlyMixin:
    """Shown, never added, changed or deleted by hand: written only by the services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    """Rows shown under their parent, as they are."""

    extra = 0
    can_delete = False
    show_change_link = False


def yuan_column(field: str, description, *, sortable: bool = True):
    """A column (or read-only field) showing the integer fen of `field` in yuan."""

    def column(self, obj) -> str:
        return format_yuan(getattr(obj, field))

    column.__name__ = field.removesuffix("_fen")
    return admin.display(description=description, ordering=field if sortable else None)(column)


# One service call per object, each its own transaction: a bulk action stops at this many, so
# that one press cannot hold a web worker for minutes (larger moves have their own services).
BULK_LIMIT = 500
REFUSALS = (ServiceError, PermissionDenied, TransitionNotAllowed, ConcurrentTransition)


def run_in_bulk(model_admin, request, ids, call, *, done_message: str) -> int:
    """Call `call(pk, now)` for the first BULK_LIMIT of `ids` (a values_list queryset) with one
    `now`. A refusal is listed in a message, not raised; the message says how many were done
    (`done_message % {"n": done}`), which were refused, and whether some were left."""
    now, done, refused = timezone.now(), 0, []
    for pk in ids[:BULK_LIMIT]:
        try:
            call(pk, now)
        except REFUSALS as error:
            refused.append(f"{pk}: {getattr(error, 'message', error)}")
        else:
            done += 1
    model_admin.message_user(request, done_message % {"n": done}, messages.SUCCESS)
    if refused:
        model_admin.message_user(request, "; ".join(refused[:10]), messages.ERROR)
    if ids[BULK_LIMIT : BULK_LIMIT + 1].exists():
        model_admin.message_user(
            request,
            _("Only the first %(n)d were processed.") % {"n": BULK_LIMIT},
            messages.WARNING,
        )
    return done


class NationalIdSearchNeedsPermission:
    """Exact search by national id, through its blind index: the column holds ciphertext, so
    a `search_fields` entry `=...national_id` is answered by `...national_id_index` equal to
    the term's HMAC (mutual.core.personal_data), OR-ed with the other fields' matches.

    An exact search confirms a guessed id (the birth date is in the list and the mask shows
    eight of eighteen digits): only staff who may see full ids may search by one
    (`members.view_national_id`, by its name: this module imports no app)."""

    def get_search_fields(self, request):
        return [field for field in super().get_search_fields(request) if "national_id" not in field]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return super().get_search_results(request, queryset, search_term)
        if self.get_search_fields(request):
            found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        else:
            found, may_have_duplicates = queryset.none(), False
        paths = [
            field.lstrip("=") + "_index"
            for field in super().get_search_fields(request)
            if field.startswith("=") and field.endswith("national_id")
        ]
        if paths and request.user.has_perm("members.view_national_id"):
            digest = blind_index(term)
            by_id = Q()
            for path in paths:
                by_id |= Q(**{path: digest})
            found = found | queryset.filter(by_id)
        return found, may_have_duplicates


# --- filters: only the ones a list declares ------------------------------------------------------
class StrictLookupsMixin:
    """A changelist filters only by what its `list_filter` and `date_hierarchy` declare.

    Django applies any other `field__lookup=value` parameter of the query string to the
    queryset, on any local field (`lookup_allowed` checks only lookups across relations): as
    any staff user, `?national_id__startswith=1101` recovered a full national id a digit at a
    time, and `?full_name__regex=...` kept PostgreSQL busy. Here a parameter that no declared
    filter takes is refused (DisallowedModelAdminLookup: a 400, logged as suspicious). The
    admin site mixes this into every ModelAdmin it registers (mutual.admin_site)."""

    def get_changelist(self, request, **kwargs):
        return strict_changelist(super().get_changelist(request, **kwargs))


_STRICT: dict[type, type] = {}


def strict_changelist(base: type[ChangeList]) -> type[ChangeList]:
    if base not in _STRICT:
        _STRICT[base] = type(f"Strict{base.__name__}", (_StrictFilters, base), {})
    return _STRICT[base]


class _StrictFilters:
    def get_filters(self, request):
        specs, has_filters, remaining, duplicates, active = super().get_filters(request)
        # What is left once the declared filters took theirs; the date hierarchy turns its
        # year, month and day into these two bounds itself.
        allowed = set()
        if self.date_hierarchy:
            allowed = {f"{self.date_hierarchy}__gte", f"{self.date_hierarchy}__lt"}
        # A declared filter's field by its bare name (`?state=submitted`) is the same equality
        # its own links make (`?state__exact=submitted`).
        allowed |= {item for item in self.list_filter if isinstance(item, str)}
        refused = sorted(set(remaining) - allowed)
        if refused:
            raise DisallowedModelAdminLookup(f"Filtering by {refused[0]} not allowed")
        return specs, has_filters, remaining, duplicates, active
