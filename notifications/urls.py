from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("settings/", views.NotificationSettingsView.as_view(), name="settings"),
    path("settings/sub-issue-types/", views.SubIssueTypeOptionsView.as_view(), name="sub-issue-types"),
    path("test/", views.TestNotificationView.as_view(), name="test"),
    path("log/", views.NotificationLogView.as_view(), name="log"),
    path("log/<int:pk>/", views.NotificationDetailView.as_view(), name="detail"),
    path("deliveries/<int:pk>/retry/", views.DeliveryRetryView.as_view(), name="retry"),
]
