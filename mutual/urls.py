from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from billing import public
from billing.api import MyBillViewSet, PeriodViewSet
from billing.export_api import MyDataExportDownloadView, MyDataExportView
from claims import public as claims_public
from claims.api import CaseViewSet, ClaimViewSet, PlanConditionsViewSet
from members.api import DependantViewSet, HouseholdView, MembershipViewSet, MeView, PlanViewSet
from members.consent_api import MyConsentsView, MyConsentWithdrawView
from members.notice_api import MyNotificationPreferencesView, MyNotificationViewSet
from mutual.api_auth import ObtainToken, RevokeAllTokens, RevokeToken
from mutual.core.api import api_not_found
from mutual.health import healthz

admin.site.site_header = _("mutual · mutual-aid back office")
admin.site.site_title = _("mutual")
admin.site.index_title = _("Back office")

router = DefaultRouter()
router.register("plans", PlanViewSet, basename="plan")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("me/dependants", DependantViewSet, basename="my-dependant")
router.register("me/bills", MyBillViewSet, basename="my-bill")
router.register("me/notifications", MyNotificationViewSet, basename="my-notification")
router.register("claims", ClaimViewSet, basename="claim")
router.register("cases", CaseViewSet, basename="case")
router.register(
    r"plans/(?P<plan_pk>[0-9]{1,18})/conditions", PlanConditionsViewSet, basename="plan-condition"
)
router.register("periods", PeriodViewSet, basename="period")

# Evidence files are medical records: never served from MEDIA_URL, only through permission checks.
urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/auth/token/", ObtainToken.as_view(), name="api-token"),
    path("api/auth/logout/", RevokeToken.as_view(), name="api-logout"),
    path("api/auth/logout-all/", RevokeAllTokens.as_view(), name="api-logout-all"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/me/", MeView.as_view(), name="api-me"),
    path("api/me/household/", HouseholdView.as_view(), name="api-household"),
    path("api/me/data-export/", MyDataExportView.as_view(), name="api-data-export"),
    path("api/me/consents/", MyConsentsView.as_view(), name="api-consents"),
    path("api/me/consents/withdraw/", MyConsentWithdrawView.as_view(), name="api-consent-withdraw"),
    path(
        "api/me/data-export/download/",
        MyDataExportDownloadView.as_view(),
        name="api-data-export-download",
    ),
    # Public, no login: periods' reports, cases in publicity, the heads' signing key (issue 12).
    path("public/", public.index_page, name="public-index"),
    path("public/periods/<int:pk>/", public.period_page, name="public-period"),
    path("public/cases/", public.cases_page, name="public-cases"),
    path("api/public/periods/<int:pk>/", public.PublicPeriodView.as_view(), name="api-period"),
    path("api/public/cases/", public.PublicCasesView.as_view(), name="api-public-cases"),
    path("api/public/signing-key/", public.SigningKeyView.as_view(), name="api-signing-key"),
    re_path(
        r"^api/public/juries/(?P<commitment>[0-9a-f]{64})/$",
        claims_public.PublicJuryView.as_view(),
        name="api-public-jury",
    ),
    re_path(
        r"^api/public/juries/(?P<commitment>[0-9a-f]{64})/eligible/(?P<page>[0-9]{1,9})\.bin$",
        claims_public.eligible_page,
        name="api-public-jury-eligible",
    ),
    path(
        "api/me/notification-preferences/",
        MyNotificationPreferencesView.as_view(),
        name="api-notification-preferences",
    ),
    path("api/", include(router.urls)),
    # Last: any other /api/ path is a JSON 404, like the API's own, not Django's HTML page.
    re_path(r"^api/", api_not_found, name="api-not-found"),
]

# Django's error pages, as JSON under /api/ (a crash, a body over Django's limits); HTML elsewhere.
handler400 = "mutual.http_errors.bad_request"
handler403 = "mutual.http_errors.permission_denied"
handler404 = "mutual.http_errors.page_not_found"
handler500 = "mutual.http_errors.server_error"
