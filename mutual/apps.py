from django.contrib.admin.apps import AdminConfig


class MutualAdminConfig(AdminConfig):
    """django.contrib.admin, whose `admin.site` is ours (two-factor login for staff); and the
    logins' receivers: failed-login counts (mutual.login_guard), API tokens (mutual.token_auth);
    and the names of the apps we did not write, in our words (mutual.third_party_names)."""

    default_site = "mutual.admin_site.MutualAdminSite"

    def ready(self) -> None:
        super().ready()
        from django.contrib.auth.signals import user_logged_in

        from mutual import token_auth
        from mutual.login_guard import on_user_logged_in

        user_logged_in.connect(on_user_logged_in, dispatch_uid="mutual.login_guard")
        token_auth.connect()
        from django.apps import apps

        from mutual.third_party_names import name_them

        name_them(apps)
