from django.urls import path

from accounts import portal_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("users/", views.UserListView.as_view(), name="users"),
    path("audit/", views.AuditLogView.as_view(), name="audit"),
    # Client-portal access (staff).
    path("client-access/", portal_views.ClientAccessView.as_view(), name="client-access"),
    path("client-access/contacts/<int:pk>/invite/", portal_views.InviteContactView.as_view(), name="invite-contact"),
    path(
        "client-access/organizations/<int:pk>/invite/",
        portal_views.InviteOrganizationView.as_view(),
        name="invite-organization",
    ),
    path(
        "client-access/requests/<int:pk>/invite/",
        portal_views.AccessRequestInviteView.as_view(),
        name="access-request-invite",
    ),
    path(
        "client-access/requests/<int:pk>/dismiss/",
        portal_views.AccessRequestDismissView.as_view(),
        name="access-request-dismiss",
    ),
    # Public: invitation, password reset, access request.
    path("invitation/<str:token>/", portal_views.InvitationAcceptView.as_view(), name="invitation-accept"),
    path("request-access/", portal_views.AccessRequestView.as_view(), name="request-access"),
    path("password-reset/", portal_views.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", portal_views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path(
        "password-reset/<uidb64>/<token>/",
        portal_views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("password-reset/done/", portal_views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
]
