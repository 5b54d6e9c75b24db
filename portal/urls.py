"""The portal's URLs, mounted at the site root:

- ``client:``, under /portal/: a signed-in client contact's invoices and profile;
- ``portal:``, under /accounts/: getting access. Staff invite contacts and handle access
  requests (Client portal access); the invitation link and the access-request form are
  public. The paths are those already sent in invitation e-mails: they must not change.
"""

from django.urls import include, path
from django.views.generic import RedirectView

from portal import views

client_patterns = [
    # /portal/ itself (the address the README gives): the invoices, or sign-in on the way.
    path("", RedirectView.as_view(pattern_name="client:invoices"), name="home"),
    path("invoices/", views.ClientInvoiceListView.as_view(), name="invoices"),
    path("invoices/<int:pk>/", views.ClientInvoiceDetailView.as_view(), name="invoice"),
    path("invoices/<int:pk>/image/", views.ClientInvoiceImageView.as_view(), name="invoice-image"),
    path("invoices/<int:pk>/pdf/", views.ClientInvoicePdfView.as_view(), name="invoice-pdf"),
    path("invoices/<int:pk>/download/", views.ClientInvoiceDownloadView.as_view(), name="invoice-download"),
    path("invoices/<int:pk>/comments/", views.ClientInvoiceCommentView.as_view(), name="invoice-comment"),
    path("profile/", views.ProfileView.as_view(), name="profile"),
]

access_patterns = [
    # Staff.
    path("client-access/", views.ClientAccessView.as_view(), name="client-access"),
    path("client-access/contacts/<int:pk>/invite/", views.InviteContactView.as_view(), name="invite-contact"),
    path("client-access/users/<int:pk>/revoke/", views.RevokeAccessView.as_view(), name="revoke-access"),
    path(
        "client-access/organizations/<int:pk>/invite/",
        views.InviteOrganizationView.as_view(),
        name="invite-organization",
    ),
    path(
        "client-access/requests/<int:pk>/invite/",
        views.AccessRequestInviteView.as_view(),
        name="access-request-invite",
    ),
    path(
        "client-access/requests/<int:pk>/dismiss/",
        views.AccessRequestDismissView.as_view(),
        name="access-request-dismiss",
    ),
    # Public.
    path("invitation/", views.InvitationView.as_view(), name="invitation"),
    # Links e-mailed before the token moved after "#"; they expire within 7 days of sending.
    path("invitation/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation-accept"),
    path("request-access/", views.AccessRequestView.as_view(), name="request-access"),
]

urlpatterns = [
    path("portal/", include((client_patterns, "client"))),
    path("accounts/", include((access_patterns, "portal"))),
]
