"""The Xero sync plan: contacts and sales invoices, asked for since the last run, for the generic
engine (`integrations.sync.engine`) to execute.

Invariants:
- Incremental runs send ``If-Modified-Since`` (the last successful run's high-water mark minus the
  overlap): a run with nothing changed costs one call per entity (plus, at most, a token refresh).
- Listings use Xero's largest page (1,000) and, for invoices, ``summaryOnly`` (no line items: the
  portal keeps only the header, the status and AmountDue).
- Contacts are listed with archived ones (complete), so a contact that was archived is updated,
  not lost. A full reconcile asks for a record it did not list by id before marking it deleted.
- Which BMS organization a contact is (the match) is derived after every run (``finish``), never
  part of a row's hash: a new BMS organization or a link made by hand changes no synced row.
- A row holds the Xero id under ``bms_id`` (the engine's external-id column; a GUID here).
- Step names are checkpoint keys: renaming one makes runs in flight restart that step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_noop

from integrations.sync.plan import Entity, SyncPlan, Window

from .client import MAX_PAGE_SIZE, XeroClient
from .exceptions import XeroNotFound
from .mapping import contact_row, invoice_row
from .models import XeroContact, XeroInvoice
from .services import xero_contacts_match
from .types import Contact, Invoice

if TYPE_CHECKING:
    from integrations.models import SyncRun

# Only sales invoices (ACCREC) are the portal's: bills (ACCPAY) are the MSP's own purchases.
SALES_INVOICES = 'Type=="ACCREC"'


class XeroSyncClient(XeroClient):
    """The client as the engine uses it: ``sibling()`` gives another one for another thread."""

    sibling_factory: Any = None

    def sibling(self) -> XeroSyncClient:
        return self.sibling_factory()


@dataclass(frozen=True)
class ListedPage:
    items: tuple[Any, ...]
    page: int
    page_size: int
    total_records: int | None
    is_last: bool


def _listed(page) -> ListedPage:
    return ListedPage(page.items, page.page, page.page_size, page.item_count, page.is_last)


# --- listings (client, page number, page size, **window filters) ------------------------------------


def list_contacts(client: XeroClient, number: int, page_size: int, *, modified_since=None) -> ListedPage:
    return _listed(
        client.list_contacts(number, modified_since=modified_since, page_size=page_size, include_archived=True)
    )


def list_invoices(client: XeroClient, number: int, page_size: int, *, modified_since=None) -> ListedPage:
    return _listed(
        client.list_invoices(
            number, where=SALES_INVOICES, modified_since=modified_since, page_size=page_size, summary_only=True
        )
    )


def changed_since(run: SyncRun) -> Window:
    """Everything in a full run; what changed since the cursor (If-Modified-Since) otherwise."""
    return Window({"modified_since": run.since} if run.since is not None else {})


# --- a full reconcile's check by id --------------------------------------------------------------


def contact_by_id(client: XeroClient, contact_id: str) -> Contact | None:
    try:
        return client.get_contact(contact_id)
    except XeroNotFound:
        return None


def invoice_by_id(client: XeroClient, invoice_id: str) -> Invoice | None:
    try:
        invoice = client.get_invoice(invoice_id)
    except XeroNotFound:
        return None
    return None if invoice.status == "DELETED" else invoice


# --- after every step ----------------------------------------------------------------------------


def match_contacts(source_id: int) -> int:
    return xero_contacts_match(source_id=source_id)


# --- the plan ------------------------------------------------------------------------------------

# fmt: off
ENTITIES: tuple[Entity, ...] = (
    #      step             counted as        shown as          model
    #      listing          cursor rule     row mapping   options
    Entity("xero_contacts", "contacts",      gettext_noop("Contacts"),      XeroContact,
           list_contacts,   changed_since,  contact_row,  confirm=contact_by_id),
    Entity("xero_invoices", "invoices",      gettext_noop("Invoices"),      XeroInvoice,
           list_invoices,   changed_since,  invoice_row,  confirm=invoice_by_id),
)
# fmt: on

PLAN = SyncPlan(
    entities=ENTITIES,
    page_size=MAX_PAGE_SIZE,
    is_last_page=lambda page, served: page.is_last,
    finish=match_contacts,
)
