"""Run a django-fsm transition with its permission check; `by=None` is the system (Celery beat)."""

from django.core.exceptions import PermissionDenied
from django_fsm import TransitionNotAllowed, can_proceed, has_transition_perm


def run_transition(bound_method, *, by, system_allowed: bool = False, **kwargs):
    """Check state, then permission, then call the transition. Saving is the caller's job."""
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
    return bound_method(by=by, **kwargs)
