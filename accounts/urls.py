from django.urls import path

from accounts import exports, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("users/", views.UserListView.as_view(), name="users"),
    path("users/invite/", views.StaffInviteView.as_view(), name="user-invite"),
    path("users/<int:pk>/role/", views.UserRoleView.as_view(), name="user-role"),
    path("users/<int:pk>/deactivate/", views.UserDeactivateView.as_view(), name="user-deactivate"),
    path("users/<int:pk>/reactivate/", views.UserReactivateView.as_view(), name="user-reactivate"),
    # Public: the link of a staff invitation (the token after "#").
    path("staff-invitation/", views.StaffInvitationView.as_view(), name="staff-invitation"),
    path("audit/", views.AuditLogView.as_view(), name="audit"),
    path("audit/export.csv", exports.AuditExportView.as_view(), name="audit-export"),
    # Public: password reset.
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("password-reset/done/", views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
]
