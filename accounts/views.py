from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.views.generic import ListView, View

from accounts import login_throttle
from accounts.forms import PortalPasswordResetForm, PortalSetPasswordForm, ThrottledAuthenticationForm
from accounts.models import AuditEvent, User
from accounts.permissions import MasterAdminRequiredMixin
from accounts.services import audit_record
from core.client_address import client_address


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.get_user()
        audit_record(
            actor=user,
            action="accounts.signin",
            target=user.email,
            summary=f"{user.email} signed in",
            address=client_address(self.request),
        )
        return response


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
        # Limited like sign-in, and every request counts whether or not the address has an
        # account: neither answer ("sent" or "too many") tells whether it does.
        email = form.cleaned_data["email"].strip().lower()
        address = client_address(self.request)
        if login_throttle.reset_is_limited(email, address):
            audit_record(
                actor=None,
                action="accounts.password_reset.limited",
                target=email[:200],
                summary=f"Password reset for {email[:150]} refused: too many requests",
                address=address,
            )
            form.add_error(None, "Too many password reset requests. Wait 15 minutes and try again.")
            return self.form_invalid(form)
        login_throttle.reset_record(email, address)
        audit_record(
            actor=None,
            action="accounts.password_reset.requested",
            target=email[:200],
            summary=f"Password reset requested for {email[:150]}",
            address=address,
        )
        self.extra_email_context = {"msp_name": settings.MSP_NAME}
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = PortalSetPasswordForm
    success_url = reverse_lazy("accounts:password-reset-complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(
            actor=form.user,
            action="accounts.password_reset.completed",
            target=form.user.email,
            summary=f"{form.user.email} set a new password with a reset link",
            address=client_address(self.request),
        )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
