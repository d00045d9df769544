"""The names the admin shows for the apps we use but did not write, in the reader's language:
their apps' headings and their models' names are plain English strings (or untranslated into
Chinese), so MutualAdminConfig.ready() gives them ours (issue 25: they stayed English on the
zh-hans pages). Django's own admin strings missing from its Chinese catalogue are listed here
for our catalogue too."""

from __future__ import annotations

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

APPS = {
    "axes": _("login lockouts"),
    "knox": _("API tokens"),
    "otp_static": _("second factor: recovery codes"),
    "otp_totp": _("second factor: authenticator apps"),
    "django_celery_results": _("task results"),
    "django_celery_beat": _("scheduled tasks"),
    "django_fsm_log": _("state logs"),
}
MODELS = {
    ("axes", "accessfailurelog"): (_("access failure"), _("access failures")),
    ("axes", "accessattempt"): (_("access attempt"), _("access attempts")),
    ("axes", "accessattemptexpiration"): (_("access attempt expiry"), _("access attempt expiries")),
    ("axes", "accesslog"): (_("access log"), _("access logs")),
    ("knox", "authtoken"): (_("API token"), _("API tokens")),
    ("otp_static", "staticdevice"): (_("recovery code set"), _("recovery code sets")),
    ("otp_static", "statictoken"): (_("recovery code"), _("recovery codes")),
    ("otp_totp", "totpdevice"): (_("authenticator app"), _("authenticator apps")),
    ("django_celery_results", "taskresult"): (_("task result"), _("task results")),
    ("django_celery_results", "chordcounter"): (_("chord counter"), _("chord counters")),
    ("django_celery_results", "groupresult"): (_("group result"), _("group results")),
    ("django_fsm_log", "statelog"): (_("state log"), _("state logs")),
}
# Django's admin index (admin/app_list.html) asks for these; its Chinese catalogue lacks them.
DJANGO_ADMIN = [gettext_noop("Model name"), gettext_noop("Add link"),
                gettext_noop("Change or view list link")]  # fmt: skip


def name_them(apps) -> None:
    for label, name in APPS.items():
        try:
            apps.get_app_config(label).verbose_name = name
        except LookupError:
            continue
    for (label, model_name), (one, many) in MODELS.items():
        try:
            meta = apps.get_model(label, model_name)._meta
        except LookupError:
            continue
        meta.verbose_name, meta.verbose_name_plural = one, many
    for model in apps.get_models():  # django-simple-history's "historical …" models
        meta = model._meta
        base = getattr(getattr(model, "instance_type", None), "_meta", None)
        if base is not None and meta.model_name.startswith("historical"):
            meta.verbose_name = format_lazy(_("history of {}"), base.verbose_name)
            meta.verbose_name_plural = format_lazy(_("histories of {}"), base.verbose_name_plural)
