"""People: account holders with a login, and the family members they cover."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.postgres.indexes import OpClass
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from mutual.core.personal_data import BlindIndexField, EncryptedCharField, blind_index

if TYPE_CHECKING:
    pass


def mask_national_id(national_id: str) -> str:
    """The first and last four characters (fewer for a short id), the rest starred:
    `1101**********1234`. Lists and API output show only this."""
    keep = min(4, len(national_id) // 4)
    hidden = len(national_id) - 2 * keep
    return national_id[:keep] + "*" * hidden + national_id[len(national_id) - keep :]


class Relationship(models.TextChoices):
    SELF = "self", _("account holder")
    SPOUSE = "spouse", _("spouse")
    CHILD = "child", _("child")
    PARENT = "parent", _("parent")


class Member(models.Model):
    """A person. An account holder (the *payer*) has a login, is credit-scored, and covers a
    household: their spouse, children and parents, who have no login of their own (`payer`
    is the account holder; members.households). The national id is shown masked; seeing it
    in full is a deliberate act that is logged (members.access.member_national_id_reveal)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="member",
        verbose_name=_("login"),
    )
    payer = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dependants",
        verbose_name=_("covered and paid for by"),
    )
    relationship = models.CharField(
        _("relationship to the account holder"),
        max_length=8,
        choices=Relationship,
        default=Relationship.SELF,
        db_default=Relationship.SELF,  # set-based inserts (the demo, the benchmarks) of holders
    )
    full_name = models.CharField(_("full name"), max_length=120)
    # Encrypted at rest; found and kept unique by its blind index (mutual.core.personal_data).
    national_id = EncryptedCharField(_("national id"), max_length=32)
    national_id_index = BlindIndexField(_("national id's blind index"), unique=True)
    birth_date = models.DateField(_("birth date"), db_index=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # A child under 14 is added only with the account holder's consent as guardian (PIPL
    # Art. 31): when it was given, and by whom.
    guardian_consent_at = models.DateTimeField(_("guardian's consent at"), null=True, blank=True)
    guardian_consent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("guardian's consent by"),
    )
    # Taken out of the household by the account holder (their memberships ended then); kept
    # for their claims and bills.
    removed_at = models.DateTimeField(_("removed from the household at"), null=True, blank=True)
    # Past its retention the identity is replaced by a pseudonym (members/retention.py).
    erased_at = models.DateTimeField(_("identity erased at"), null=True, blank=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        permissions = [("view_national_id", _("Can see a member's full national id"))]
        # The admin searches by name with UPPER(...) LIKE 'x%': index exactly that.
        indexes = [
            models.Index(
                OpClass(Upper("full_name"), name="varchar_pattern_ops"),
                name="member_name_upper_prefix",
            ),
        ]
        constraints = [
            # An account holder has a login and no payer; a dependant has a payer, a
            # relationship to them, and no login.
            models.CheckConstraint(
                condition=Q(payer__isnull=True, relationship="self", user__isnull=False)
                | (Q(payer__isnull=False, user__isnull=True) & ~Q(relationship="self")),
                name="member_holder_or_dependant",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    def validate_unique(self, exclude=None):
        """The blind index is not a form field, so forms would not check its uniqueness: a
        person registered twice would reach the database's refusal (a 500)."""
        super().validate_unique(exclude=exclude)
        if self.national_id and "national_id" not in (exclude or ()):
            twins = Member.objects.filter(national_id_index=blind_index(self.national_id))
            if twins.exclude(pk=self.pk).exists():
                raise ValidationError({"national_id": _("This national id is already registered.")})

    @property
    def national_id_masked(self) -> str:
        return mask_national_id(self.national_id)

    def age_on(self, day: datetime.date) -> int:
        had_birthday = (day.month, day.day) >= (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - (0 if had_birthday else 1)

    @property
    def account_holder_id(self) -> int:
        """Whose account pays for this person: their own, or their payer's."""
        return self.payer_id or self.pk
