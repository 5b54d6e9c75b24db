"""Xero's own pages, mounted at integrations/xero/ (``IntegrationProvider.urlpatterns``): Connect,
the OAuth callback, choosing the organisation, and Unmatched in Xero.

Invariants: connecting is the Master Admin's (as Settings are); the callback accepts a code only
with the ``state`` issued to the same session; no token ever reaches a page, a message or a log.
Unmatched in Xero is for staff (Master Admin and Billing staff), who may link contacts by hand.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from accounts.permissions import MasterAdminRequiredMixin, StaffRequiredMixin
from integrations.models import DataSource, Integration
from integrations.registry import installation_of
from organizations.models import Organization

from . import oauth, services
from .exceptions import XeroError
from .models import ContactMatch, XeroConnection, XeroContact, XeroContactLink
from .tokens import access_token, identity_for
from .types import Connection

logger = logging.getLogger("providers.xero")

PROVIDER_KEY = "xero"
LIST_URL = "integrations:list"


def _integration_or_none() -> Integration | None:
    return Integration.objects.filter(provider_key=PROVIDER_KEY).first()


def _connections(integration: Integration) -> list[Connection]:
    """The organisations the stored grant covers (Xero's identity service, no tenant budget)."""
    with identity_for(integration, timeout=(3, 10), max_attempts=2) as identity:
        return identity.connections(access_token(integration.pk))


class ConnectView(MasterAdminRequiredMixin, View):
    """Connect / Reconnect Xero: off to Xero's consent page with a state bound to this session."""

    def post(self, request):
        integration = _integration_or_none()
        if integration is None or not integration.has_secret("client_secret"):
            messages.error(request, _("Enter the Xero Client ID and Client Secret in Settings first."))
            return redirect("integrations:settings", PROVIDER_KEY)
        state = oauth.state_issue(request.session)
        with identity_for(integration) as identity:
            url = identity.authorize_url(oauth.redirect_uri(), state, oauth.scopes_for(integration.config))
        return redirect(url)


class CallbackView(MasterAdminRequiredMixin, View):
    """Xero sends the admin's browser back here with ``code`` and ``state`` (or ``error``)."""

    def get(self, request):
        state_ok = oauth.state_check(request.session, request.GET.get("state"))
        if request.GET.get("error"):
            error = request.GET["error"]
            text = _("Xero access was not allowed (Cancel on Xero's page).") if error == "access_denied" else error
            messages.warning(request, _("Xero was not connected: %(reason)s") % {"reason": text[:200]})
            return redirect(LIST_URL)
        if not state_ok:
            messages.error(
                request,
                _(
                    "Xero's answer did not match a Connect click in this browser session (it expired or came from "
                    "elsewhere). Use Connect Xero again."
                ),
            )
            return redirect(LIST_URL)
        integration = _integration_or_none()
        code = request.GET.get("code", "")
        if integration is None or not code:
            messages.error(request, _("Xero was not connected: set up Xero in Settings, then use Connect Xero."))
            return redirect(LIST_URL)
        try:
            connection = services.xero_connect_with_code(integration=integration, actor=request.user, code=code)
        except XeroError as exc:
            logger.warning("Connecting Xero failed: %s", type(exc).__name__)
            message = installation_of(integration).error_message(exc, doing="sign_in")
            messages.error(request, _("Xero was not connected: %(reason)s") % {"reason": message})
            return redirect(LIST_URL)
        except services.NoOrganisationGranted as exc:
            messages.error(request, str(exc))
            return redirect(LIST_URL)
        if not connection.tenant_id:
            return redirect("integrations:xero:choose")
        messages.success(
            request,
            _("Xero is connected to %(organisation)s. Run Test Connection to check it.") % {"organisation": connection},
        )
        return redirect(LIST_URL)


class ChooseTenantView(MasterAdminRequiredMixin, View):
    """The grant covers several organisations: the admin picks the one the portal works with."""

    template_name = "xero/choose_organisation.html"

    def _load(self, request):
        integration = get_object_or_404(Integration, provider_key=PROVIDER_KEY)
        connection = get_object_or_404(XeroConnection, integration=integration)
        return integration, connection, _connections(integration)

    def get(self, request):
        try:
            integration, connection, connections = self._load(request)
        except XeroError as exc:
            return self._failed(request, exc)
        return render(request, self.template_name, {"connections": connections, "current": connection.tenant_id})

    def post(self, request):
        try:
            integration, _connection, connections = self._load(request)
        except XeroError as exc:
            return self._failed(request, exc)
        chosen = next((c for c in connections if c.tenant_id == request.POST.get("tenant_id")), None)
        if chosen is None:
            messages.error(request, _("Choose one of the organisations listed."))
            return render(request, self.template_name, {"connections": connections, "current": ""}, status=400)
        services.xero_tenant_choose(integration=integration, actor=request.user, chosen=chosen)
        messages.success(
            request,
            _("Xero is connected to %(organisation)s. Run Test Connection to check it.")
            % {"organisation": chosen.tenant_name},
        )
        return redirect(LIST_URL)

    def _failed(self, request, exc: XeroError):
        integration = _integration_or_none()
        text = installation_of(integration).error_message(exc, doing="sign_in") if integration else str(exc)
        messages.error(request, _("Could not list the Xero organisations: %(error)s") % {"error": text})
        return redirect(LIST_URL)


# --- Unmatched in Xero ---------------------------------------------------------------------------


def _source_or_none() -> DataSource | None:
    """The data source of the connected Xero organisation (linked when Test Connection passes)."""
    return DataSource.objects.filter(integration__provider_key=PROVIDER_KEY).first()


class UnmatchedView(StaffRequiredMixin, View):
    """Organizations > Unmatched in Xero: the Xero contacts no organization matched, each linkable
    by hand to an organization found by searching; and the links made by hand."""

    template_name = "xero/unmatched.html"
    page_size = 25

    def get(self, request):
        source = _source_or_none()
        q = request.GET.get("q", "").strip()
        org_q = request.GET.get("org_q", "").strip()
        context = {"source": source, "q": q, "org_q": org_q}
        if source is not None:
            contacts = XeroContact.objects.filter(
                source=source, deleted_at__isnull=True, organization__isnull=True, match=ContactMatch.NONE
            ).exclude(status__in=["ARCHIVED", "GDPRREQUEST"])
            if q:
                contacts = contacts.filter(
                    Q(name__icontains=q) | Q(account_number__icontains=q) | Q(email__icontains=q)
                )
            organizations = Organization.objects.filter(deleted_at__isnull=True)
            if org_q:
                organizations = organizations.filter(Q(name__icontains=org_q) | Q(code__icontains=org_q))
            linked = XeroContact.objects.filter(source=source, match=ContactMatch.LINK)
            page = Paginator(contacts.order_by("name", "pk"), self.page_size).get_page(request.GET.get("page"))
            context |= {
                "page_obj": page,
                "organizations": organizations.order_by("name", "pk")[:50],
                "linked": linked.select_related("organization").order_by("name")[:200],
                "stored": XeroContact.objects.filter(source=source).exists(),
                "last_sync": source.last_success_at,
            }
        return render(request, self.template_name, context)


def _back(request) -> str:
    url = reverse("integrations:xero:unmatched")
    keep = {k: request.POST.get(k, "") for k in ("q", "org_q") if request.POST.get(k)}
    if keep:
        url += "?" + urlencode(keep)
    return url


class LinkView(StaffRequiredMixin, View):
    def post(self, request):
        source = _source_or_none()
        if source is None:
            messages.error(request, _("Xero has not been synced yet."))
            return redirect(LIST_URL)
        contact = XeroContact.objects.filter(source=source, pk=request.POST.get("contact") or 0).first()
        organization = Organization.objects.filter(
            deleted_at__isnull=True, pk=request.POST.get("organization") or 0
        ).first()
        if contact is None or organization is None:
            messages.error(request, _("Choose a Xero contact and an organization to link."))
            return redirect(_back(request))
        services.xero_contact_link(actor=request.user, contact=contact, organization=organization)
        messages.success(
            request,
            _("Linked the Xero contact %(contact)s to %(organization)s.")
            % {"contact": contact.name, "organization": organization.name},
        )
        return redirect(_back(request))


class UnlinkView(StaffRequiredMixin, View):
    def post(self, request, pk: int):
        source = _source_or_none()
        contact = get_object_or_404(XeroContact, pk=pk, source=source)
        if not XeroContactLink.objects.filter(source=source, contact_id=contact.bms_id).exists():
            messages.info(request, _("%(contact)s has no link made by hand.") % {"contact": contact.name})
            return redirect(_back(request))
        services.xero_contact_unlink(actor=request.user, contact=contact)
        messages.success(request, _("Removed the link of the Xero contact %(contact)s.") % {"contact": contact.name})
        return redirect(_back(request))
