from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("settings/", views.NotificationSettingsView.as_view(), name="settings"),
    path("log/", views.NotificationLogView.as_view(), name="log"),
]
