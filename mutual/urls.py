from django.contrib import admin
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from members.api import PlanViewSet
from mutual.health import healthz

router = DefaultRouter()
router.register("plans", PlanViewSet, basename="plan")

# Evidence files are medical records: never served from MEDIA_URL, only through permission checks.
urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include(router.urls)),
]
