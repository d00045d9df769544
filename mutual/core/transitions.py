"""Run a django-fsm transition with its permission check; `by=None` is the system (Celery beat)."""

from __future__ import annotations

import datetime
from contextvars import ContextVar
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models.signals import pre_save
from django_fsm import TransitionNotAllowed, can_proceed, has_transition_perm

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# The service's `now` while one of its transitions runs: django-fsm-log writes the transition's
# StateLog row from inside the transition, and would otherwise stamp it with the wall clock.
_transition_now: ContextVar[datetime.datetime | None] = ContextVar("transition_now", default=None)


def _stamp_log_row_with_the_services_now(sender, instance, **kwargs) -> None:
    moment = _transition_now.get()
    if moment is not None and instance._state.adding:
        instance.timestamp = moment


pre_save.connect(
    _stamp_log_row_with_the_services_now,
    sender="django_fsm_log.StateLog",
    dispatch_uid="mutual.core.transitions.stamp_log_row",
)


def transition_check(bound_method, *, by: User | None, system_allowed: bool = False) -> None:
    """Raise unless `by` (None: the system) may run the transition now: TransitionNotAllowed
    for the state and the transition's conditions, PermissionDenied for the person. Screens ask
    it to offer only what the service will accept."""
    name = bound_method.__name__
    instance = bound_method.__self__
    if not can_proceed(bound_method):
        raise TransitionNotAllowed(
            f"{instance._meta.verbose_name} {instance.pk}: cannot {name} from this state",
            object=instance,
            method=bound_method,
        )
    if by is None:
        if not system_allowed:
            raise PermissionDenied(f"{name} needs a person, not the system")
    elif not has_transition_perm(bound_method, by):
        raise PermissionDenied(f"{by} may not {name} {instance._meta.verbose_name} {instance.pk}")


def run_transition(
    bound_method, *, by: User | None, now: datetime.datetime, system_allowed: bool = False, **kwargs
):
    """Check state, then permission (transition_check), then call the transition with `now`;
    its log row carries `now`, not the wall clock. Saving is the caller's job."""
    transition_check(bound_method, by=by, system_allowed=system_allowed)
    token = _transition_now.set(now)
    try:
        return bound_method(by=by, now=now, **kwargs)
    finally:
        _transition_now.reset(token)
