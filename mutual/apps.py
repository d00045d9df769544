from django.contrib.admin.apps import AdminConfig


class MutualAdminConfig(AdminConfig):
    """django.contrib.admin, whose `admin.site` is ours (two-factor login for staff)."""

    default_site = "mutual.admin_site.MutualAdminSite"
