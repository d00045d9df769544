"""The admin helpers every app shares (issue 13: one of each): amounts in yuan, bulk runs."""

import pytest
from django.core.exceptions import PermissionDenied

from members.models import Membership
from mutual.core import admin_tools
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


class _Admin:
    def __init__(self):
        self.messages = []

    def message_user(self, request, message, level=None):
        self.messages.append(str(message))


def test_a_yuan_column_shows_fen_in_yuan_and_sorts_by_the_field():
    column = admin_tools.yuan_column("cover_fen", "cover")
    membership = MembershipFactory.build(cover_fen=30_000_000)
    assert column(None, membership) == "300,000.00"
    assert column.admin_order_field == "cover_fen"
    unsorted = admin_tools.yuan_column("cover_fen", "c", sortable=False)
    assert not hasattr(unsorted, "admin_order_field")


def test_a_bulk_run_stops_at_its_limit_lists_refusals_and_says_what_was_left(monkeypatch):
    monkeypatch.setattr(admin_tools, "BULK_LIMIT", 3)
    MembershipFactory.create_batch(4)
    ids = Membership.objects.order_by("pk").values_list("pk", flat=True)
    refused_id = ids[1]
    called = []

    def call(pk, now):
        if pk == refused_id:
            raise PermissionDenied("not this one")
        called.append(pk)

    model_admin = _Admin()
    done = admin_tools.run_in_bulk(model_admin, None, ids, call, done_message="%(n)d done.")
    assert done == 2 and called == [ids[0], ids[2]]
    assert model_admin.messages == [
        "2 done.",
        f"{refused_id}: not this one",
        "Only the first 3 were processed.",
    ]
