from django.views.generic import TemplateView

from accounts.permissions import StaffRequiredMixin


class NotificationSettingsView(StaffRequiredMixin, TemplateView):
    template_name = "notifications/settings.html"


class NotificationLogView(StaffRequiredMixin, TemplateView):
    template_name = "notifications/log.html"
