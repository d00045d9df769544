"""Admin pieces shared by every app: lists that stay fast at ten million rows."""

import json

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

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
        sql, params = queryset.query.sql_with_params()
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
