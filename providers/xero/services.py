"""Xero use cases: finish a connection, choose the organisation, refresh and match contacts, link
contacts by hand, remember invoices.

Invariants:
- Tokens are written only through ``tokens.tokens_store`` (encrypted, under the row lock).
- Choosing another organisation than the one confirmed pauses syncs until Test Connection has
  identified it (``Integration.tenant_confirmed``), as a settings change reaching another tenant does.
- A contact linked by hand keeps its link; every link and unlink is audited.
- A contact refresh asks only for contacts changed since the last one (``If-Modified-Since``, with
  an overlap), so an unchanged tenant costs one call.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from integrations.models import Integration, IntegrationStatus
from organizations.models import Organization

from .client import MAX_PAGE_SIZE, XeroClient
from .matching import OrganizationIndex
from .models import ContactMatch, XeroConnection, XeroContact, XeroContactLink, XeroInvoice
from .tokens import StoredTokens, tokens_store
from .types import Connection, Contact, Invoice, TokenSet

logger = logging.getLogger("providers.xero")

# Contacts changed this long before the last refresh are asked for again (clock skew, paging).
CONTACTS_OVERLAP = timedelta(minutes=10)


# --- connecting ------------------------------------------------------------------------------------


def xero_connection_get(integration: Integration) -> XeroConnection:
    connection, _ = XeroConnection.objects.get_or_create(integration=integration)
    return connection


def xero_grant_store(*, integration: Integration, token_set: TokenSet) -> None:
    """Store the tokens of a new grant (the code exchange's answer) before anything uses them."""
    tokens_store(integration_id=integration.pk, tokens=StoredTokens.from_token_set(token_set))


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
        connection.contacts_modified_since = None
        # Another organisation: nothing syncs until Test Connection has identified it.
        Integration.objects.filter(pk=integration.pk).update(tenant_confirmed=False)
        integration.tenant_confirmed = False
    connection.tenant_name = (chosen.tenant_name or "") if chosen else ""


def xero_connection_update_from_test(*, connection: XeroConnection, tenant_name: str, scopes: list[str]) -> None:
    XeroConnection.objects.filter(pk=connection.pk).update(tenant_name=tenant_name[:255], scopes=scopes)


# --- contacts --------------------------------------------------------------------------------------


def _contact_fields(contact: Contact) -> dict:
    return {
        "name": contact.name[:255],
        "account_number": (contact.account_number or "")[:100],
        "email": (contact.email or "")[:254],
        "contact_persons": [
            {
                "first_name": p.first_name or "",
                "last_name": p.last_name or "",
                "email": p.email or "",
                "include_in_emails": p.include_in_emails,
            }
            for p in contact.contact_persons
        ],
        "status": contact.status or "",
        "is_customer": contact.is_customer,
        "xero_updated_at": contact.updated_at,
    }


def xero_contacts_store(*, tenant_id: str, contacts: list[Contact]) -> int:
    """Upsert the contacts' stored copies (matching them is ``xero_contacts_match``)."""
    now = timezone.now()
    with transaction.atomic():
        existing = {
            c.contact_id: c
            for c in XeroContact.objects.filter(tenant_id=tenant_id, contact_id__in=[c.contact_id for c in contacts])
        }
        for contact in contacts:
            row = existing.get(contact.contact_id) or XeroContact(tenant_id=tenant_id, contact_id=contact.contact_id)
            for name, value in _contact_fields(contact).items():
                setattr(row, name, value)
            row.refreshed_at = now
            row.save()
    return len(contacts)


def xero_contacts_refresh(*, connection: XeroConnection, client: XeroClient) -> int:
    """Read the contacts changed since the last refresh (all of them the first time), store and
    match them. Returns how many Xero sent."""
    started = timezone.now()
    since = connection.contacts_modified_since
    modified_since = since - CONTACTS_OVERLAP if since else None
    count = 0
    page = 1
    while True:
        result = client.list_contacts(
            page, modified_since=modified_since, page_size=MAX_PAGE_SIZE, include_archived=True
        )
        count += xero_contacts_store(tenant_id=connection.tenant_id, contacts=list(result.items))
        if result.is_last:
            break
        page += 1
    XeroConnection.objects.filter(pk=connection.pk).update(contacts_modified_since=started)
    connection.contacts_modified_since = started
    xero_contacts_match(tenant_id=connection.tenant_id)
    return count


def xero_contacts_match(*, tenant_id: str) -> dict[str, int]:
    """Match every stored contact of the tenant: its link, else its account number, else its name.
    Returns counts by match."""
    index = OrganizationIndex.current()
    links = dict(XeroContactLink.objects.filter(tenant_id=tenant_id).values_list("contact_id", "organization_id"))
    counts = {choice.value: 0 for choice in ContactMatch}
    with transaction.atomic():
        for row in XeroContact.objects.filter(tenant_id=tenant_id).only(
            "pk", "contact_id", "name", "account_number", "organization_id", "match"
        ):
            if row.contact_id in links:
                org_pk, match = links[row.contact_id], ContactMatch.LINK
            else:
                org_pk, match = index.match(account_number=row.account_number, name=row.name)
            counts[match] += 1
            if (row.organization_id, row.match) != (org_pk, match):
                XeroContact.objects.filter(pk=row.pk).update(organization_id=org_pk, match=match)
    return counts


@transaction.atomic
def xero_contact_link(*, actor: User, contact: XeroContact, organization: Organization) -> XeroContactLink:
    link, _ = XeroContactLink.objects.update_or_create(
        tenant_id=contact.tenant_id,
        contact_id=contact.contact_id,
        defaults={"organization": organization, "linked_by": actor, "linked_at": timezone.now()},
    )
    previous = contact.organization_id
    XeroContact.objects.filter(pk=contact.pk).update(organization=organization, match=ContactMatch.LINK)
    audit_record(
        actor=actor,
        action="xero.contact_linked",
        target=contact.name,
        summary=f"Linked the Xero contact {contact.name} to the organization {organization.name}",
        xero_contact_id=contact.contact_id,
        organization_id=organization.pk,
        previous_organization_id=previous,
    )
    return link


@transaction.atomic
def xero_contact_unlink(*, actor: User, contact: XeroContact) -> None:
    XeroContactLink.objects.filter(tenant_id=contact.tenant_id, contact_id=contact.contact_id).delete()
    previous = contact.organization
    index = OrganizationIndex.current()
    org_pk, match = index.match(account_number=contact.account_number, name=contact.name)
    XeroContact.objects.filter(pk=contact.pk).update(organization_id=org_pk, match=match)
    audit_record(
        actor=actor,
        action="xero.contact_unlinked",
        target=contact.name,
        summary=f"Removed the link of the Xero contact {contact.name} to {previous.name if previous else 'nothing'}",
        xero_contact_id=contact.contact_id,
        organization_id=previous.pk if previous else None,
    )


# --- invoices --------------------------------------------------------------------------------------


def xero_invoice_remember(*, tenant_id: str, invoice: Invoice) -> XeroInvoice:
    row, _ = XeroInvoice.objects.update_or_create(
        tenant_id=tenant_id,
        invoice_id=invoice.invoice_id,
        defaults={
            "invoice_number": (invoice.invoice_number or "")[:100],
            "contact_id": invoice.contact_id or "",
            "status": invoice.status or "",
            "currency": (invoice.currency_code or "")[:3],
            "total": invoice.total,
            "amount_due": invoice.amount_due,
            "amount_paid": invoice.amount_paid,
            "xero_updated_at": invoice.updated_at,
            "refreshed_at": timezone.now(),
        },
    )
    return row


def xero_invoice_forget(*, tenant_id: str, invoice_id: str) -> None:
    XeroInvoice.objects.filter(tenant_id=tenant_id, invoice_id=invoice_id).delete()
