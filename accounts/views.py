from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.views.generic import ListView, TemplateView, View

from accounts.forms import ThrottledAuthenticationForm
from accounts.models import AuditEvent, User
from accounts.permissions import ClientContactRequiredMixin, MasterAdminRequiredMixin


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class HomeView(LoginRequiredMixin, View):
    """Send each role to its start page."""

    def get(self, request):
        if request.user.is_portal_staff:
            return redirect("integrations:list")
        if request.user.is_client_contact:
            return redirect("client:invoices")
        return redirect("accounts:login")


class UserListView(MasterAdminRequiredMixin, ListView):
    model = User
    template_name = "accounts/user_list.html"
    paginate_by = 50


class AuditLogView(MasterAdminRequiredMixin, ListView):
    model = AuditEvent
    template_name = "accounts/audit_log.html"
    paginate_by = 50

    def get_queryset(self):
        return AuditEvent.objects.select_related("actor")


class ProfileView(ClientContactRequiredMixin, TemplateView):
    template_name = "client/profile.html"
