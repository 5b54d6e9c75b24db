"""The Posting errors page and its actions, included under /payments/ (names in ``payments:``)."""

from django.urls import path

from payments import posting_views

urlpatterns = [
    path("postings/", posting_views.PostingErrorsView.as_view(), name="posting-errors"),
    path("postings/<int:pk>/retry/", posting_views.PostingRetryView.as_view(), name="posting-retry"),
    path("postings/<int:pk>/dismiss/", posting_views.PostingDismissView.as_view(), name="posting-dismiss"),
]
