"""Xero use cases: finish a connection, choose the organisation, match contacts, link them by hand,
remember invoices.

Invariants:
- Tokens are written only through ``tokens.tokens_store`` (encrypted, under the row lock).
- Choosing another organisation than the one confirmed pauses syncs until Test Connection has
  identified it (``Integration.tenant_confirmed``), as a settings change reaching another tenant does.
- A contact linked by hand keeps its link; every link and unlink is audited. Matches are derived
  (never hashed): the sync rematches after every run, a link rematches its contact at once.
- Rows written outside the sync (an invoice found by number) are the sync's own rows (same
  mapping, same hash), so the next run sees them unchanged. The one exception: the portal's own
  postings move an invoice's stored AmountDue at once (``xero_invoice_amount_due_move``).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from integrations.models import DataSource, Integration, IntegrationStatus
from integrations.sync.upsert import apply_upsert, plan_upsert
from organizations.models import Organization

from . import oauth
from .mapping import contact_row, invoice_row
from .matching import OrganizationIndex
from .models import ContactMatch, XeroConnection, XeroContact, XeroContactLink, XeroInvoice
from .tokens import StoredTokens, identity_for, tokens_store
from .types import Connection, Contact, Invoice, TokenSet

logger = logging.getLogger("providers.xero")


# --- connecting ------------------------------------------------------------------------------------


def xero_grant_store(*, integration: Integration, token_set: TokenSet) -> None:
    """Store the tokens of a new grant (the code exchange's answer) before anything uses them."""
    tokens_store(integration_id=integration.pk, tokens=StoredTokens.from_token_set(token_set))


class NoOrganisationGranted(Exception):
    def __init__(self) -> None:
        super().__init__(_("Xero connected no organisation: use Connect Xero and tick one on Xero's page."))


def xero_connect_with_code(*, integration: Integration, actor: User, code: str) -> XeroConnection:
    """Exchange the authorization code Xero sent back for tokens (stored before anything uses
    them), find the organisations the grant covers and record the connection. Raises XeroError
    or NoOrganisationGranted."""
    with identity_for(integration) as identity:
        token_set = identity.exchange_code(code, oauth.redirect_uri())
        xero_grant_store(integration=integration, token_set=token_set)
        connections = identity.connections(token_set.access_token, auth_event_id=token_set.auth_event_id)
        if not connections and token_set.auth_event_id:
            connections = identity.connections(token_set.access_token)
    if not connections:
        raise NoOrganisationGranted()
    return xero_connect_complete(integration=integration, actor=actor, scopes=token_set.scopes, connections=connections)


@transaction.atomic
def xero_connect_complete(
    *, integration: Integration, actor: User, scopes: tuple[str, ...], connections: list[Connection]
) -> XeroConnection:
    """Record the new grant (its tokens already stored) and pick the organisation: the one already
    chosen when the grant still covers it, else the only one granted; else none (the admin chooses)."""
    connection = XeroConnection.objects.select_for_update().filter(integration=integration).first()
    connection = connection or XeroConnection(integration=integration)
    connection.scopes = list(scopes)
    connection.connected_at = timezone.now()
    connection.connected_by = actor
    connection.reconnect_reason = ""
    connection.reconnect_since = None
    granted = {c.tenant_id: c for c in connections}
    if connection.tenant_id in granted:
        chosen = granted[connection.tenant_id]
    elif len(connections) == 1:
        chosen = connections[0]
    else:
        chosen = None
    _set_tenant(connection, integration, chosen)
    connection.save()
    Integration.objects.filter(pk=integration.pk).update(status=IntegrationStatus.CONFIGURED, status_detail="")
    audit_record(
        actor=actor,
        action="xero.connected",
        target="Xero",
        summary=f"Connected Xero ({connection.tenant_name or 'organisation to choose'})",
        organisations=len(connections),
        scopes=list(scopes),
    )
    return connection


@transaction.atomic
def xero_tenant_choose(*, integration: Integration, actor: User, chosen: Connection) -> XeroConnection:
    connection = XeroConnection.objects.select_for_update().get(integration=integration)
    _set_tenant(connection, integration, chosen)
    connection.save()
    audit_record(
        actor=actor,
        action="xero.organisation_chosen",
        target="Xero",
        summary=f"Chose the Xero organisation {chosen.tenant_name or chosen.tenant_id}",
    )
    return connection


def _set_tenant(connection: XeroConnection, integration: Integration, chosen: Connection | None) -> None:
    tenant_id = chosen.tenant_id if chosen else ""
    if tenant_id != connection.tenant_id:
        connection.tenant_id = tenant_id
        # Another organisation: nothing syncs until Test Connection has identified it.
        Integration.objects.filter(pk=integration.pk).update(tenant_confirmed=False)
        integration.tenant_confirmed = False
    connection.tenant_name = (chosen.tenant_name or "") if chosen else ""


def xero_connection_update_from_test(*, connection: XeroConnection, tenant_name: str, scopes: list[str]) -> None:
    XeroConnection.objects.filter(pk=connection.pk).update(tenant_name=tenant_name[:255], scopes=scopes)


# --- contacts --------------------------------------------------------------------------------------


def xero_contacts_match(*, source_id: int) -> int:
    """Match every contact of the source: its link, else its account number, else its name.
    Returns how many matches changed."""
    index = OrganizationIndex.current()
    links = dict(XeroContactLink.objects.filter(source_id=source_id).values_list("contact_id", "organization_id"))
    changed = []
    with transaction.atomic():
        for row in XeroContact.objects.filter(source_id=source_id).only(
            "pk", "bms_id", "name", "account_number", "organization_id", "match"
        ):
            if row.bms_id in links:
                org_pk, match = links[row.bms_id], ContactMatch.LINK
            else:
                org_pk, match = index.match(account_number=row.account_number, name=row.name)
            if (row.organization_id, row.match) != (org_pk, match):
                row.organization_id, row.match = org_pk, match
                changed.append(row)
        XeroContact.objects.bulk_update(changed, ["organization", "match"], batch_size=500)
    return len(changed)


@transaction.atomic
def xero_contact_link(*, actor: User, contact: XeroContact, organization: Organization) -> XeroContactLink:
    link, _created = XeroContactLink.objects.update_or_create(
        source_id=contact.source_id,
        contact_id=contact.bms_id,
        defaults={"organization": organization, "linked_by": actor, "linked_at": timezone.now()},
    )
    previous = contact.organization_id
    XeroContact.objects.filter(pk=contact.pk).update(organization=organization, match=ContactMatch.LINK)
    audit_record(
        actor=actor,
        action="xero.contact_linked",
        target=contact.name,
        summary=f"Linked the Xero contact {contact.name} to the organization {organization.name}",
        xero_contact_id=contact.bms_id,
        organization_id=organization.pk,
        previous_organization_id=previous,
    )
    return link


@transaction.atomic
def xero_contact_unlink(*, actor: User, contact: XeroContact) -> None:
    XeroContactLink.objects.filter(source_id=contact.source_id, contact_id=contact.bms_id).delete()
    previous = contact.organization
    org_pk, match = OrganizationIndex.current().match(account_number=contact.account_number, name=contact.name)
    XeroContact.objects.filter(pk=contact.pk).update(organization_id=org_pk, match=match)
    audit_record(
        actor=actor,
        action="xero.contact_unlinked",
        target=contact.name,
        summary=f"Removed the link of the Xero contact {contact.name} to {previous.name if previous else 'nothing'}",
        xero_contact_id=contact.bms_id,
        organization_id=previous.pk if previous else None,
    )


# --- invoices --------------------------------------------------------------------------------------


def xero_invoice_remember(*, source: DataSource | None, invoice: Invoice) -> None:
    """Keep what Xero just said of an invoice (its id, AmountDue), as the sync would write it."""
    if source is None:
        return  # before the first passed Test Connection there is nowhere to keep it
    plan = plan_upsert(XeroInvoice, source.pk, [invoice_row(invoice)])
    apply_upsert(plan, source_id=source.pk, now=timezone.now(), run_id=None, mark_seen=False)


def xero_invoice_gone(*, source: DataSource | None, invoice_id: str) -> None:
    """Xero has no such invoice any more (404): marked deleted, as a reconcile would, never removed."""
    if source is not None:
        XeroInvoice.objects.filter(source=source, bms_id=invoice_id.lower(), deleted_at__isnull=True).update(
            deleted_at=timezone.now()
        )


def xero_invoice_amount_due_move(*, source: DataSource | None, invoice_id: str, by: Decimal) -> None:
    """The portal just paid (``by`` < 0) or reversed a payment (``by`` > 0) on the invoice in Xero: the
    stored AmountDue follows at once rather than at the next sync (never below 0). The row's hash stays
    that of what Xero said before, so the next read of the invoice writes Xero's own figure again."""
    if source is not None:
        XeroInvoice.objects.filter(source=source, bms_id=invoice_id.lower(), amount_due__isnull=False).update(
            amount_due=Greatest(F("amount_due") + by, Value(Decimal("0")))
        )


def xero_contact_remember(*, source: DataSource | None, contact: Contact) -> None:
    """Keep what Xero just said of a contact (its e-mails), as the sync would write it."""
    if source is None:
        return
    plan = plan_upsert(XeroContact, source.pk, [contact_row(contact)])
    apply_upsert(plan, source_id=source.pk, now=timezone.now(), run_id=None, mark_seen=False)
