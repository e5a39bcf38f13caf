from django.urls import path, re_path

from loyalty.api import views

app_name = "pos_api"

urlpatterns = [
    path("customers/lookup", views.CustomerLookupApi.as_view(), name="customer-lookup"),
    path("customers", views.CustomerEnrolApi.as_view(), name="customer-enrol"),
    path(
        "customers/<str:customer_id>/operations",
        views.CustomerOperationsListApi.as_view(),
        name="customer-operations",
    ),
    path("checks/calculate", views.CheckCalculateApi.as_view(), name="check-calculate"),
    path("checks", views.CheckCommitApi.as_view(), name="check-commit"),
    path("checks/reserve", views.CheckReserveApi.as_view(), name="check-reserve"),
    path("checks/<str:check_id>/confirm", views.CheckConfirmApi.as_view(), name="check-confirm"),
    path("checks/<str:check_id>/refunds", views.CheckRefundApi.as_view(), name="check-refund"),
    path("checks/<str:check_id>/cancel", views.CheckCancelApi.as_view(), name="check-cancel"),
    path("events", views.EventAwardApi.as_view(), name="event-award"),
    path("rewards", views.RewardListApi.as_view(), name="reward-list"),
    path("rewards/<str:code>/claim", views.RewardClaimApi.as_view(), name="reward-claim"),
    re_path(r"^.*$", views.NotFoundApi.as_view(), name="not-found"),
]
