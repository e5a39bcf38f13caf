from django.urls import path

from . import views

app_name = "cabinet"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("language/", views.language, name="language"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("signup/confirm/", views.signup_confirm, name="signup_confirm"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("history/", views.history, name="history"),
    path("offers/", views.offers, name="offers"),
    path("offers/activate/", views.offer_activate, name="offer_activate"),
    path("rewards/", views.rewards, name="rewards"),
    path("rewards/claim/", views.reward_claim, name="reward_claim"),
    path("code/", views.till_code, name="till_code"),
    path("referral/", views.referral, name="referral"),
    path("invite/<slug:code>/", views.invite, name="invite"),
    path("profile/", views.profile, name="profile"),
    path("profile/consent/", views.consent, name="consent"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read/", views.inbox_read, name="inbox_read"),
    path("rules/", views.rules, name="rules"),
    path("programme/", views.program_switch, name="program_switch"),
]
