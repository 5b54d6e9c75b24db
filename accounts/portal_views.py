"""Client-portal access: staff invite synced contacts; contacts accept, reset passwords or
ask for access."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views import View

from accounts.invitations import (
    InvitationExpired,
    InvitationInvalid,
    contacts_invite,
    invitation_accept,
    invitation_user_for_token,
    organization_invite,
    summarize,
)
from accounts.models import Role, User
from accounts.permissions import StaffRequiredMixin
from accounts.portal_forms import (
    AccessRequestForm,
    InvitationPasswordForm,
    PortalPasswordResetForm,
    PortalSetPasswordForm,
)
from billing.models import AccessRequestStatus, PortalAccessRequest, PortalInvitation
from billing.services import access_request_close, access_request_create
from core.redirects import safe_next
from organizations.models import Contact, Organization


def _portal_status(contacts: list[Contact]) -> None:
    """Annotate each contact with .portal_user and .last_invitation (two queries per page)."""
    emails = {c.email.strip().lower() for c in contacts if c.email}
    users = {u.email: u for u in User.objects.filter(email__in=emails)}
    invitations = {}
    for invitation in PortalInvitation.objects.filter(user__in=users.values()).order_by("user_id", "-sent_at"):
        invitations.setdefault(invitation.user_id, invitation)
    for contact in contacts:
        user = users.get(contact.email.strip().lower()) if contact.email else None
        contact.portal_user = user
        contact.last_invitation = invitations.get(user.pk) if user else None


class ClientAccessView(StaffRequiredMixin, View):
    """Staff: the synced contacts, their portal access, and pending access requests."""

    template_name = "accounts/client_access.html"

    def get(self, request):
        organization = None
        org_id = request.GET.get("organization", "")
        if org_id.isdigit():
            organization = Organization.objects.filter(pk=int(org_id), deleted_at__isnull=True).first()
        q = request.GET.get("q", "").strip()[:100]
        contacts = Contact.objects.select_related("organization").filter(
            deleted_at__isnull=True, organization__isnull=False, organization__deleted_at__isnull=True
        )
        if organization:
            contacts = contacts.filter(organization=organization)
        if q:
            contacts = contacts.filter(
                Q(first_name__icontains=q)
                | Q(last_name__icontains=q)
                | Q(email__icontains=q)
                | Q(organization__name__icontains=q)
            )
        contacts = contacts.order_by("organization__name", "-is_poc", "last_name", "first_name", "id")
        page = Paginator(contacts, 50).get_page(request.GET.get("page"))
        _portal_status(list(page.object_list))
        params = request.GET.copy()
        params.pop("page", None)
        return render(
            request,
            self.template_name,
            {
                "organization": organization,
                "organizations": Organization.objects.filter(deleted_at__isnull=True)
                .only("id", "name")
                .order_by("name"),
                "q": q,
                "page_obj": page,
                "is_paginated": page.has_other_pages(),
                "contacts": page.object_list,
                "query_string": params.urlencode(),
                "access_requests": PortalAccessRequest.objects.select_related("organization", "contact").filter(
                    status=AccessRequestStatus.PENDING
                )[:50],
            },
        )


def _back(request) -> str:
    return safe_next(request, reverse("accounts:client-access"))


def _report(request, outcomes) -> None:
    if any(o.sent for o in outcomes):
        messages.success(request, summarize(outcomes))
    elif outcomes:
        messages.warning(request, summarize(outcomes))
    else:
        messages.warning(request, "No contact with an e-mail address to invite.")


class InviteContactView(StaffRequiredMixin, View):
    def post(self, request, pk: int):
        contact = get_object_or_404(Contact.objects.select_related("organization"), pk=pk)
        _report(request, contacts_invite(contacts=[contact], actor=request.user))
        return redirect(_back(request))


class InviteOrganizationView(StaffRequiredMixin, View):
    def post(self, request, pk: int):
        organization = get_object_or_404(Organization, pk=pk, deleted_at__isnull=True)
        _report(request, organization_invite(organization=organization, actor=request.user))
        return redirect(_back(request))


class AccessRequestDismissView(StaffRequiredMixin, View):
    def post(self, request, pk: int):
        access_request = get_object_or_404(PortalAccessRequest, pk=pk)
        access_request_close(access_request=access_request, actor=request.user)
        messages.info(request, f"The access request from {access_request.email} was dismissed.")
        return redirect(_back(request))


class AccessRequestInviteView(StaffRequiredMixin, View):
    def post(self, request, pk: int):
        access_request = get_object_or_404(PortalAccessRequest.objects.select_related("contact__organization"), pk=pk)
        if access_request.contact is None:
            messages.error(
                request, f"{access_request.email} matches no synced contact: add the contact in BMS, sync, then invite."
            )
            return redirect(_back(request))
        outcomes = contacts_invite(contacts=[access_request.contact], actor=request.user)
        _report(request, outcomes)
        if any(o.sent or o.status == "has_access" for o in outcomes):
            access_request_close(access_request=access_request, actor=request.user, status=AccessRequestStatus.INVITED)
        return redirect(_back(request))


class InvitationAcceptView(View):
    """Public: the link from the invitation e-mail; the contact chooses a password."""

    template_name = "accounts/invitation_accept.html"

    def _user(self, token: str):
        try:
            return invitation_user_for_token(token), None
        except InvitationExpired as exc:
            return None, (str(exc), True)
        except InvitationInvalid as exc:
            return None, (str(exc), False)

    def get(self, request, token: str):
        user, problem = self._user(token)
        if problem:
            return render(request, self.template_name, {"problem": problem[0], "expired": problem[1]})
        return render(request, self.template_name, {"form": InvitationPasswordForm(user), "invitee": user})

    def post(self, request, token: str):
        user, problem = self._user(token)
        if problem:
            return render(request, self.template_name, {"problem": problem[0], "expired": problem[1]}, status=400)
        form = InvitationPasswordForm(user, request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form, "invitee": user}, status=400)
        invitation_accept(user=user, password=form.cleaned_data["new_password1"])
        login(request, user, backend="accounts.backends.PortalBackend")
        messages.success(request, "Welcome! Your password is set; this is your organization's billing portal.")
        return redirect("client:invoices" if user.role == Role.CLIENT_CONTACT else "home")


class AccessRequestView(View):
    """Public: someone without an account asks for portal access."""

    template_name = "accounts/request_access.html"

    def get(self, request):
        return render(request, self.template_name, {"form": AccessRequestForm()})

    def post(self, request):
        form = AccessRequestForm(request.POST)
        if form.is_valid():
            try:
                access_request_create(**form.cleaned_data, ip=request.META.get("REMOTE_ADDR", ""))
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return render(request, self.template_name, {"sent": True})
        return render(request, self.template_name, {"form": form}, status=400)


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    form_class = PortalPasswordResetForm
    success_url = reverse_lazy("accounts:password-reset-done")

    def form_valid(self, form):
        from django.conf import settings

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
