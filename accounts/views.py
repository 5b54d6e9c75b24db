from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import ListView, View

from accounts import login_throttle
from accounts.audit import audit_sentence
from accounts.forms import (
    STAFF_ROLE_CHOICES,
    PortalPasswordResetForm,
    PortalSetPasswordForm,
    StaffInviteForm,
    StaffRoleForm,
    ThrottledAuthenticationForm,
)
from accounts.models import AuditEvent, User
from accounts.permissions import MasterAdminRequiredMixin
from accounts.services import audit_record
from accounts.staff import (
    StaffChangeRefused,
    StaffInvitationInvalid,
    staff_invitation_accept,
    staff_invitation_user_for_token,
    staff_invite,
    user_deactivate,
    user_reactivate,
    user_role_change,
)
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
    """Users: every account; the Master Admin invites staff, changes roles, deactivates and
    reactivates staff accounts (accounts.staff)."""

    model = User
    template_name = "accounts/user_list.html"
    paginate_by = 50

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("invite_form", StaffInviteForm())
        context["staff_roles"] = STAFF_ROLE_CHOICES
        return context


class StaffInviteView(MasterAdminRequiredMixin, View):
    def post(self, request):
        form = StaffInviteForm(request.POST)
        if not form.is_valid():
            problems = "; ".join(
                f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()
            )
            messages.error(request, _("Nothing was sent. %(problems)s") % {"problems": problems})
            return redirect("accounts:users")
        try:
            invitation = staff_invite(
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                full_name=form.cleaned_data["full_name"],
                actor=request.user,
            )
        except StaffChangeRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Invitation to %(email)s queued.") % {"email": invitation.user.email})
        return redirect("accounts:users")


class _UserChangeView(MasterAdminRequiredMixin, View):
    def post(self, request, pk: int):
        user = get_object_or_404(User, pk=pk)
        try:
            message = self.change(request, user)
        except StaffChangeRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, message)
        return redirect("accounts:users")

    def change(self, request, user: User) -> str:
        raise NotImplementedError


class UserRoleView(_UserChangeView):
    def change(self, request, user):
        form = StaffRoleForm(request.POST)
        if not form.is_valid():
            raise StaffChangeRefused(_("Choose Master Admin or Billing staff."))
        user = user_role_change(user=user, role=form.cleaned_data["role"], actor=request.user)
        return _("%(email)s is now %(role)s.") % {"email": user.email, "role": user.get_role_display()}


class UserDeactivateView(_UserChangeView):
    def change(self, request, user):
        user_deactivate(user=user, actor=request.user)
        return _("%(email)s is deactivated and signed out everywhere.") % {"email": user.email}


class UserReactivateView(_UserChangeView):
    def change(self, request, user):
        user_reactivate(user=user, actor=request.user)
        return _("%(email)s is active again.") % {"email": user.email}


@method_decorator(sensitive_post_parameters(), name="dispatch")
class StaffInvitationView(View):
    """Public: the link from a staff invitation e-mail, ``/accounts/staff-invitation/#<token>``;
    static/js/invitation.js posts the token (it never appears in a request line)."""

    template_name = "accounts/staff_invitation.html"

    def get(self, request):
        return render(request, self.template_name, {"opening": True})

    def post(self, request):
        token = request.POST.get("token", "").strip()
        if not token:
            return render(request, self.template_name, {"opening": True, "missing": True}, status=400)
        try:
            user = staff_invitation_user_for_token(token)
        except StaffInvitationInvalid as exc:
            return render(request, self.template_name, {"problem": str(exc)}, status=400)
        if "new_password1" not in request.POST:
            return self._password_page(request, token, PortalSetPasswordForm(user), user)
        form = PortalSetPasswordForm(user, request.POST)
        if not form.is_valid():
            return self._password_page(request, token, form, user, status=400)
        staff_invitation_accept(user=user, password=form.cleaned_data["new_password1"])
        login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
        messages.success(request, _("Welcome! Your password is set."))
        return redirect("home")

    def _password_page(self, request, token, form, user, status=200):
        context = {"form": form, "invitee": user, "token": token}
        return render(request, self.template_name, context, status=status)


class AuditLogView(MasterAdminRequiredMixin, ListView):
    model = AuditEvent
    template_name = "accounts/audit_log.html"
    paginate_by = 50

    def get_queryset(self):
        return AuditEvent.objects.select_related("actor")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["entries"] = [(event, audit_sentence(event)) for event in context["object_list"]]
        return context


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
            form.add_error(None, _("Too many password reset requests. Wait 15 minutes and try again."))
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
