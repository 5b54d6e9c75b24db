from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.views.generic import ListView, View

from accounts.forms import PortalPasswordResetForm, PortalSetPasswordForm, ThrottledAuthenticationForm
from accounts.models import AuditEvent, User
from accounts.permissions import MasterAdminRequiredMixin


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


# --- password reset (public) --------------------------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    form_class = PortalPasswordResetForm
    success_url = reverse_lazy("accounts:password-reset-done")

    def form_valid(self, form):
        self.extra_email_context = {"msp_name": settings.MSP_NAME}
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = PortalSetPasswordForm
    success_url = reverse_lazy("accounts:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
