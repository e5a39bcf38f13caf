from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from config import views

urlpatterns = [
    path("api/schema/", views.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("loyalty.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("notifications/", include("notifications.urls")),
]
urlpatterns += i18n_patterns(
    path("", views.landing, name="landing"),
    path("api/guide/", views.api_guide, name="api-guide"),
    path("admin/", admin.site.urls),
    path("cabinet/", include("customers.cabinet.urls")),
    prefix_default_language=False,
)
