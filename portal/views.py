"""The client portal's pages, and getting access to it.

- A client contact sees their own organization's invoices only: every lookup is scoped by
  ``request.user.organization``; another organization's invoice answers 404 whatever id is
  tried. The invoice pages reuse billing's shared bases (billing.views).
- Staff invite synced contacts and handle access requests (Client portal access).
- Public: the invitation link (choose a password) and the access-request form.
"""

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import TemplateView

from accounts.models import Role, User
from accounts.permissions import ClientContactRequiredMixin, StaffRequiredMixin
from billing.forms import InvoiceCommentForm
from billing.models import Invoice
from billing.selectors import INVOICE_STATES
from billing.services import invoice_comment_create
from billing.views import InvoiceCommentPostBase, InvoiceDetailBase, InvoiceImagePanelBase, InvoicePdfBase
from core.client_address import client_address
from core.redirects import safe_next
from organizations.models import Contact, Organization
from portal import list_cache
from portal.forms import (
    AccessRequestForm,
    ClientInvoiceFilterForm,
    InvitationPasswordForm,
    ProfilePasswordForm,
)
from portal.invitations import (
    InvitationExpired,
    InvitationInvalid,
    contacts_invite,
    invitation_accept,
    invitation_user_for_token,
    organization_invite,
    summarize,
)
from portal.models import AccessRequestStatus, PortalAccessRequest
from portal.selectors import (
    access_requests_pending,
    client_access_contacts,
    client_invoice_get,
    client_invoice_list,
    contacts_portal_status,
    current_organizations,
)
from portal.services import (
    access_request_close,
    access_request_create,
    client_access_revoke,
    client_password_change,
)

# --- the client's invoices -----------------------------------------------------------------------


class ClientInvoiceMixin(ClientContactRequiredMixin):
    url_namespace = "client"

    def get_invoice(self, pk: int) -> Invoice:
        return client_invoice_get(organization_id=self.request.user.organization_id, pk=pk)


class ClientInvoiceListView(ClientContactRequiredMixin, TemplateView):
    """The organization's invoices. Browsing (no search) is rendered once per organization,
    filter and page, then served from the cache (portal.list_cache); searches, deep pages
    and unknown parameters are rendered each time, so no request can fill the cache with
    lists nobody else will see."""

    template_name = "portal/invoices.html"
    paginate_by = 25
    cached_pages = 10  # of each filter: where people look
    params = {"q", "state", "page"}

    def get_context_data(self, **kwargs):
        organization_id = self.request.user.organization_id
        key = self.cache_key(self.request.GET)
        if key is None:
            invoice_list = self.render_invoice_list(organization_id, self.request.GET)
        else:
            invoice_list = list_cache.rendered(
                "client-invoices", organization_id, key, lambda: self.render_invoice_list(organization_id, _query(*key))
            )
        # A SafeString from render_to_string (pickled as one): were it ever a plain str, the
        # page would show escaped HTML, never run it.
        return super().get_context_data(invoice_list=invoice_list, **kwargs)

    def cache_key(self, query: QueryDict) -> tuple[str, int] | None:
        """(state, page) of a plain browse, or None when the request is not worth caching.
        No language in it: one ships (settings.LANGUAGES); a second one must be added here."""
        if not query.keys() <= self.params or query.get("q", "").strip():
            return None
        state, page = query.get("state", ""), query.get("page", "1")
        if state and state not in INVOICE_STATES:
            return None
        if not page.isdigit() or not 1 <= int(page) <= self.cached_pages:
            return None
        return state, int(page)

    def render_invoice_list(self, organization_id: int | None, query: QueryDict) -> str:
        filter_form = ClientInvoiceFilterForm(query or None)
        data = filter_form.cleaned_data if filter_form.is_valid() else {}
        invoices = client_invoice_list(
            organization_id=organization_id,
            search=(data.get("q") or "").strip(),
            state=data.get("state") or "",
        )
        # A page number out of range (a stale link, a hand-edited URL) shows the nearest page.
        page = Paginator(invoices, self.paginate_by).get_page(query.get("page"))
        others = query.copy()
        others.pop("page", None)
        context = {
            "organization": self.request.user.organization,
            "filter_form": filter_form,
            "invoices": page.object_list,
            "page_obj": page,
            "is_paginated": page.has_other_pages(),
            "query_string": others.urlencode(),
            "filtered": bool(others.get("q") or others.get("state")),
        }
        return render_to_string("portal/_invoice_list.html", context)


def _query(state: str, page: int) -> QueryDict:
    """The parameters of a plain browse, as its links will carry them."""
    query = QueryDict(mutable=True)
    if state:
        query["state"] = state
    if page > 1:
        query["page"] = str(page)
    return query


class ClientInvoiceDetailView(ClientInvoiceMixin, InvoiceDetailBase):
    template_name = "portal/invoice_detail.html"
    comment_form_class = InvoiceCommentForm


class ClientInvoiceImageView(ClientInvoiceMixin, InvoiceImagePanelBase):
    pass


class ClientInvoicePdfView(ClientInvoiceMixin, InvoicePdfBase):
    pass


class ClientInvoiceDownloadView(ClientInvoiceMixin, InvoicePdfBase):
    as_attachment = True


class ClientInvoiceCommentView(ClientInvoiceMixin, InvoiceCommentPostBase):
    """A comment for the billing team."""

    detail_view = ClientInvoiceDetailView
    success_message = gettext_lazy("Your comment was sent to the billing team.")

    def thread_post(self, *, invoice: Invoice, author, body: str):
        return invoice_comment_create(invoice=invoice, author=author, body=body)


@method_decorator(sensitive_post_parameters(), name="dispatch")
class ProfileView(ClientContactRequiredMixin, View):
    """The contact's name, e-mail and organization, and changing their password."""

    template_name = "portal/profile.html"

    def get(self, request):
        return self.page(request, ProfilePasswordForm(request.user, client_address=client_address(request)))

    def post(self, request):
        address = client_address(request)
        form = ProfilePasswordForm(request.user, request.POST, client_address=address)
        if not form.is_valid():
            return self.page(request, form, status=400)
        client_password_change(user=request.user, password=form.cleaned_data["new_password1"], client_address=address)
        update_session_auth_hash(request, request.user)  # this browser stays signed in; others are signed out
        messages.success(
            request, _("Your password was changed. You stay signed in here; other devices are signed out.")
        )
        return redirect("client:profile")

    def page(self, request, form, status=200):
        context = {"form": form, "organization": request.user.organization}
        return render(request, self.template_name, context, status=status)


# --- staff: Client portal access -----------------------------------------------------------------


class ClientAccessView(StaffRequiredMixin, View):
    """Staff: the synced contacts, their portal access, and pending access requests."""

    template_name = "portal/client_access.html"

    def get(self, request):
        organization = None
        org_id = request.GET.get("organization", "")
        if org_id.isdigit():
            organization = current_organizations().filter(pk=int(org_id)).first()
        q = request.GET.get("q", "").strip()[:100]
        contacts = client_access_contacts(organization=organization, search=q)
        page = Paginator(contacts, 50).get_page(request.GET.get("page"))
        contacts_portal_status(list(page.object_list))
        params = request.GET.copy()
        params.pop("page", None)
        return render(
            request,
            self.template_name,
            {
                "organization": organization,
                "organizations": current_organizations().only("id", "name").order_by("name"),
                "q": q,
                "page_obj": page,
                "is_paginated": page.has_other_pages(),
                "contacts": page.object_list,
                "query_string": params.urlencode(),
                "access_requests": access_requests_pending(),
            },
        )


def _back(request) -> str:
    return safe_next(request, reverse("portal:client-access"))


def _report(request, outcomes) -> None:
    if any(o.sent for o in outcomes):
        messages.success(request, summarize(outcomes))
    elif outcomes:
        messages.warning(request, summarize(outcomes))
    else:
        messages.warning(request, _("No contact with an e-mail address to invite."))


class InviteContactView(StaffRequiredMixin, View):
    def post(self, request, pk: int):
        contact = get_object_or_404(Contact.objects.select_related("organization"), pk=pk)
        _report(request, contacts_invite(contacts=[contact], actor=request.user))  # a revoked contact gets access back
        return redirect(_back(request))


class InviteOrganizationView(StaffRequiredMixin, View):
    def post(self, request, pk: int):
        organization = get_object_or_404(Organization, pk=pk, deleted_at__isnull=True)
        _report(request, organization_invite(organization=organization, actor=request.user))
        return redirect(_back(request))


class RevokeAccessView(StaffRequiredMixin, View):
    """Staff take a client contact's portal access away (confirmed in a dialog first)."""

    def post(self, request, pk: int):
        user = get_object_or_404(User, pk=pk, role=Role.CLIENT_CONTACT)
        if not user.is_active:
            messages.info(request, _("The portal access of %(email)s was already revoked.") % {"email": user.email})
            return redirect(_back(request))
        ended = client_access_revoke(user=user, actor=request.user)
        if ended:
            signed_out = ngettext("%(count)d session ended", "%(count)d sessions ended", ended) % {"count": ended}
        else:
            signed_out = _("they were not signed in")
        messages.success(
            request,
            _(
                "Portal access of %(email)s revoked: %(signed_out)s, and links already sent no longer work. "
                "Invite them again to give access back."
            )
            % {"email": user.email, "signed_out": signed_out},
        )
        return redirect(_back(request))


class AccessRequestDismissView(StaffRequiredMixin, View):
    def post(self, request, pk: int):
        access_request = get_object_or_404(PortalAccessRequest, pk=pk)
        access_request_close(access_request=access_request, actor=request.user)
        messages.info(request, _("The access request from %(email)s was dismissed.") % {"email": access_request.email})
        return redirect(_back(request))


class AccessRequestInviteView(StaffRequiredMixin, View):
    def post(self, request, pk: int):
        access_request = get_object_or_404(PortalAccessRequest.objects.select_related("contact__organization"), pk=pk)
        if access_request.contact is None:
            messages.error(
                request,
                _("%(email)s matches no synced contact: add the contact in BMS, sync, then invite.")
                % {"email": access_request.email},
            )
            return redirect(_back(request))
        outcomes = contacts_invite(contacts=[access_request.contact], actor=request.user)
        _report(request, outcomes)
        if any(o.sent or o.status == "has_access" for o in outcomes):
            access_request_close(access_request=access_request, actor=request.user, status=AccessRequestStatus.INVITED)
        return redirect(_back(request))


# --- public: the invitation link and the access-request form ------------------------------------


@method_decorator(sensitive_post_parameters(), name="dispatch")
class InvitationView(View):
    """Public: the link from the invitation e-mail, ``/accounts/invitation/#<token>``.

    The token comes after "#", which browsers never send: the page's script
    (static/js/invitation.js) posts it, so it never appears in a request line (access logs)
    or a Referer. A POST with the token alone shows the password form; with the passwords
    too, it sets the password and signs in. Without JavaScript, the visitor pastes the code.
    """

    template_name = "portal/invitation_accept.html"

    def get(self, request):
        return render(request, self.template_name, {"opening": True})

    def post(self, request):
        return self.accept(request, request.POST.get("token", "").strip())

    def accept(self, request, token: str):
        if not token:
            return render(request, self.template_name, {"opening": True, "missing": True}, status=400)
        try:
            user = invitation_user_for_token(token)
        except InvitationInvalid as exc:
            context = {"problem": str(exc), "expired": isinstance(exc, InvitationExpired)}
            return render(request, self.template_name, context, status=400)
        if "new_password1" not in request.POST:
            return self._password_page(request, token, InvitationPasswordForm(user), user)
        form = InvitationPasswordForm(user, request.POST)
        if not form.is_valid():
            return self._password_page(request, token, form, user, status=400)
        invitation_accept(user=user, password=form.cleaned_data["new_password1"])
        login(request, user, backend="portal.backends.PortalBackend")
        messages.success(request, _("Welcome! Your password is set; this is your organization's billing portal."))
        return redirect("client:invoices" if user.role == Role.CLIENT_CONTACT else "home")

    def _password_page(self, request, token, form, user, status=200):
        context = {"form": form, "invitee": user, "token": token}
        return render(request, self.template_name, context, status=status)


@method_decorator(sensitive_post_parameters(), name="dispatch")
class InvitationAcceptView(InvitationView):
    """Links e-mailed before the token moved after "#" (``/accounts/invitation/<token>/``):
    they keep working until they expire. Opening one sends the browser to the new page with
    the token after "#", so later requests (and their Referer) no longer carry it."""

    def get(self, request, token: str):
        return redirect(f"{reverse('portal:invitation')}#{token}")

    def post(self, request, token: str):
        return self.accept(request, request.POST.get("token", "").strip() or token)


class AccessRequestView(View):
    """Public: someone without an account asks for portal access."""

    template_name = "portal/request_access.html"

    def get(self, request):
        return render(request, self.template_name, {"form": AccessRequestForm()})

    def post(self, request):
        form = AccessRequestForm(request.POST)
        if form.is_valid():
            try:
                access_request_create(**form.cleaned_data, client_address=client_address(request))
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return render(request, self.template_name, {"sent": True})
        return render(request, self.template_name, {"form": form}, status=400)
