from django.contrib import admin
from django.urls import include, path

from mutual.health import healthz

# Evidence files are medical records: never served from MEDIA_URL, only through permission checks.
urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
