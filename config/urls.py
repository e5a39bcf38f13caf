from csp.decorators import csp_exempt
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from config import views
from config.health import HealthView

urlpatterns = [
    path("api/schema/", views.SchemaView.as_view(), name="api-schema"),
    # Swagger UI and Redoc (assets from drf-spectacular-sidecar) start with an inline script:
    # no CSP on these two pages.
    path(
        "api/docs/",
        csp_exempt()(SpectacularSwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        csp_exempt()(SpectacularRedocView.as_view(url_name="api-schema")),
        name="api-redoc",
    ),
    path("api/v1/", include("loyalty.api.urls")),
    path("health/", HealthView.as_view(), name="health"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("notifications/", include("notifications.urls")),
]
urlpatterns += i18n_patterns(
    path("", views.landing, name="landing"),
    path("api/guide/", views.api_guide, name="api-guide"),
    path("admin/", admin.site.urls),
    path("cabinet/", include("cabinet.urls")),
    prefix_default_language=False,
)

# Under /api/ every error is the JSON envelope of docs/api.md; elsewhere Django's pages.
handler400 = "loyalty.api.exceptions.bad_request"
handler403 = "loyalty.api.exceptions.permission_denied"
handler404 = "loyalty.api.exceptions.page_not_found"
handler500 = "loyalty.api.exceptions.server_error"
