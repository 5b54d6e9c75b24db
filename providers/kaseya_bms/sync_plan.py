"""The Kaseya BMS sync plan: which records, listed how, asked for since when, mapped how.

The table at the end (`ENTITIES`) is the plan; `integrations.sync.engine` executes it.
Invariants:
- Incremental runs ask BMS only for what changed since the last successful run's
  high-water mark (minus an overlap): accounts and contacts by ModifiedOnFrom, tickets by
  LastActivityUpdateFrom, invoices by CreatedFrom (and a recent window) plus a re-list of
  the statuses open invoices have, then the open invoices those listings no longer return;
  contracts have no filter and are re-listed whole and diffed.
- An invoice's lines are fetched (bulk details endpoint) only when the invoice is new or
  changed: BMS bumps an invoice when its lines change.
- Organization links are derived (BMS account id; for contracts the account name), never
  hashed; records stored before their organization are linked when the run ends. So is a
  currency BMS does not give: an account's is the tenant's, an invoice's its organization's.
- Step names are checkpoint keys: renaming one makes runs in flight restart that step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Subquery
from django.utils.translation import gettext_noop

from billing.models import Invoice, InvoiceLine
from integrations.models import DataSource
from integrations.sync.plan import Children, Entity, Repull, Step, SyncPlan, Window
from organizations.models import Contact, Contract, Organization, Ticket
from providers.kaseya_bms import mapping
from providers.kaseya_bms.client import MAX_PAGE_SIZE, BmsClient, is_last_page
from providers.kaseya_bms.exceptions import BmsNotFound

if TYPE_CHECKING:
    from integrations.models import SyncRun
    from integrations.sync.engine import SyncEngine

# Invoices that left the open listings: fetched one by one (this many per checkpoint), or
# listed by creation date when a cluster of them lies within this window.
CLOSED_INVOICE_BATCH = 50
CLOSED_INVOICE_WINDOW = timedelta(days=7)


# --- cursor rules: what a run asks for (``run.since`` is None in a full run) --------------------


def modified_since(run: SyncRun) -> Window:
    return Window({"modified_from": run.since})


def last_activity_since(run: SyncRun) -> Window:
    return Window({"last_activity_from": run.since})


def relisted_whole(run: SyncRun) -> Window:
    """No filter: everything, every run, compared with all that is stored."""
    return Window({}, stored={}, whole=True)


def created_since_or_recent(run: SyncRun) -> Window:
    """Invoices created since the cursor, or within the recent window if that reaches further
    back (recent invoices still change); the window's stored invoices estimate its length."""
    if run.since is None:
        return Window()
    created_from = min(run.since, run.high_water_mark - timedelta(days=settings.SYNC_INVOICE_RECENT_DAYS))
    return Window({"created_from": created_from}, stored={"bms_created_on__gte": created_from})


# --- open invoices: re-listed by status, those that left fetched back ---------------------------


def open_invoice_statuses(source_id: int) -> list[int]:
    """Open invoices change (payments, status) without BMS offering a modified-date filter:
    each status open invoices have is re-listed."""
    return sorted(
        {
            status_id
            for status_id in Invoice.objects.filter(source_id=source_id, deleted_at__isnull=True, balance_due__gt=0)
            .order_by()
            .values_list("status_bms_id", flat=True)
            if status_id is not None
        }
    )


def open_invoices_with_status(status: str) -> Window:
    return Window({"status_id": int(status)}, stored={"status_bms_id": int(status)}, whole=True)


def fetch_closed_invoices(sync: SyncEngine, step: Step, invoices: Entity) -> None:
    """Open invoices no open-status listing returned: paid, voided or deleted since.

    BMS can only filter invoices by id (one per request) or by creation date, so each
    cluster of such invoices is fetched whichever way costs fewer requests. Resuming
    needs no page number: what was fetched is noted as seen and drops out of the set."""
    seen = sync.seen_ids()
    stale = [
        (bms_id, created)
        for bms_id, created in Invoice.objects.filter(
            source_id=sync.source_id, deleted_at__isnull=True, balance_due__gt=0
        )
        .exclude(last_seen_run=sync.run.pk)  # written by this run: as fresh as it gets
        .order_by("bms_created_on", "bms_id")
        .values_list("bms_id", "bms_created_on")
        if bms_id not in seen
    ]
    units = closed_invoice_units(stale, source_id=sync.source_id, page_size=sync.page_size)
    for number, (ids, window) in enumerate(units, start=1):
        if window is None:
            found = [invoice for bms_id in ids for invoice in sync.client.list_invoices(1, 1, invoice_id=bms_id).items]
            sync.write_items(step, invoices, number, found, mark_seen=False, note_seen=True)
            continue
        pages = sync.client.iter_invoice_pages(page_size=sync.page_size, created_from=window[0], created_to=window[1])
        for page in pages:
            sync.write_items(step, invoices, number, page.items, mark_seen=False, note_seen=True)


def closed_invoice_units(
    stale: list[tuple[int, datetime | None]], *, source_id: int, page_size: int
) -> Iterable[tuple[list[int], tuple[datetime, datetime] | None]]:
    """(ids, None) to fetch one by one, or (ids, (created_from, created_to)) to list: a
    cluster (creation dates within CLOSED_INVOICE_WINDOW) is listed when the invoices created
    in its window fill fewer pages than it has invoices."""
    cluster: list[tuple[int, datetime | None]] = []

    def flush():
        ids = [bms_id for bms_id, _ in cluster]
        dated = [created for _, created in cluster if created is not None]
        if len(dated) == len(cluster) and len(cluster) > 1:
            window = (dated[0], dated[-1])
            listed = Invoice.objects.filter(
                source_id=source_id, bms_created_on__gte=window[0], bms_created_on__lte=window[1]
            ).count()
            if -(-listed // page_size) < len(ids):
                return [(ids, window)]
        return [(ids[i : i + CLOSED_INVOICE_BATCH], None) for i in range(0, len(ids), CLOSED_INVOICE_BATCH)]

    for bms_id, created in stale:
        if cluster and (created is None or cluster[0][1] is None or created - cluster[0][1] > CLOSED_INVOICE_WINDOW):
            yield from flush()
            cluster = []
        cluster.append((bms_id, created))
    if cluster:
        yield from flush()


# --- fetching ------------------------------------------------------------------------------------


def invoice_lines(client: BmsClient, invoice_ids: list[int]) -> list:
    """The lines of these invoices, from the bulk details endpoint (many invoices a request)."""
    return [line for line_page in client.iter_invoice_line_item_pages(invoice_ids) for line in line_page.items]


def invoice_by_id(client: BmsClient, invoice_id: int):
    """The invoice as the listing shows it (its summary, which is what is mapped), or None."""
    page = client.list_invoices(1, 1, invoice_id=invoice_id)
    return page.items[0] if page.items else None


def gone_if_not_found(fetch: Callable[[BmsClient, int], Any]) -> Callable[[BmsClient, int], Any]:
    """A reconcile's confirmation by id: the record, or None when BMS has no such record."""

    def confirm(client: BmsClient, record_id: int):
        try:
            return fetch(client, record_id)
        except BmsNotFound:
            return None

    return confirm


# --- organization links --------------------------------------------------------------------------


def link_by_account(source_id: int, rows: list[dict]) -> None:
    """Link rows to the organization of their BMS account."""
    account_ids = {row["bms_account_id"] for row in rows if row["bms_account_id"] is not None}
    organizations = Organization.objects.filter(source_id=source_id).filter(bms_id__in=account_ids).order_by("pk")
    by_account = dict(organizations.values_list("bms_id", "pk"))
    for row in rows:
        row["organization_id"] = by_account.get(row["bms_account_id"])


def _tenant_currency(source_id: int) -> str:
    """The tenant's currency as Test Connection stored it ("" before it was)."""
    return DataSource.objects.filter(pk=source_id).values_list("currency_code", flat=True).first() or ""


def currency_or_tenants(source_id: int, rows: list[dict]) -> None:
    """Organizations whose BMS account names no currency are in the tenant's."""
    missing = [row for row in rows if not row["currency"]]
    if missing:
        tenants = _tenant_currency(source_id)
        for row in missing:
            row["currency"] = tenants


def link_invoices(source_id: int, rows: list[dict]) -> None:
    """Link invoices to their organization, whose currency is theirs (BMS invoices carry
    none); the tenant's when the organization is not stored yet or has none."""
    account_ids = {row["bms_account_id"] for row in rows if row["bms_account_id"] is not None}
    organizations = Organization.objects.filter(source_id=source_id).filter(bms_id__in=account_ids).order_by("pk")
    by_account = {bms_id: (pk, code) for bms_id, pk, code in organizations.values_list("bms_id", "pk", "currency")}
    tenants = None
    for row in rows:
        row["organization_id"], row["currency"] = by_account.get(row["bms_account_id"], (None, ""))
        if not row["currency"]:
            tenants = _tenant_currency(source_id) if tenants is None else tenants
            row["currency"] = tenants


def link_by_account_name(source_id: int, rows: list[dict]) -> None:
    """Link contracts by account name (BMS's contract list has no account id): the oldest
    organization of that name."""
    by_name: dict[str, int] = {}
    names = {row["account_name"] for row in rows if row["account_name"]}
    organizations = Organization.objects.filter(source_id=source_id).filter(name__in=names).order_by("pk")
    for pk, name in organizations.values_list("pk", "name"):
        by_name.setdefault(name, pk)
    for row in rows:
        row["organization_id"] = by_name.get(row["account_name"])


def link_orphans(source_id: int) -> int:
    """Link records stored before their organization was (an account created mid-run)."""
    linked = 0
    for model in (Contact, Ticket, Invoice):
        organization = Organization.objects.filter(source_id=source_id, bms_id=OuterRef("bms_account_id"))
        links = {"organization_id": Subquery(organization.values("pk")[:1])}
        if model is Invoice:  # an invoice is in its organization's currency
            links["currency"] = Subquery(organization.values("currency")[:1])
        orphans = model.objects.filter(source_id=source_id, organization__isnull=True).filter(Exists(organization))
        linked += orphans.update(**links)
    return linked


# --- the plan ------------------------------------------------------------------------------------

INVOICE_LINES = Children(
    InvoiceLine,
    "invoice lines",
    parent_field="invoice",
    parent_key="bms_invoice_id",
    fetch=invoice_lines,
    to_row=mapping.invoice_line_row,
)

OPEN_INVOICES_BY_STATUS = Repull(
    step="open_invoices",
    label=gettext_noop("Open invoices"),
    groups=open_invoice_statuses,
    window=open_invoices_with_status,
    leftovers_step="closed_invoices",
    leftovers_label=gettext_noop("Paid invoices"),
    leftovers=fetch_closed_invoices,
)

# In listing order (organizations first, so later rows link at once), which is also the
# reconcile's order. confirm: a full reconcile asks for a record it did not list by id
# before marking it deleted; contracts (re-listed whole every run) have no such check.
# fmt: off
ENTITIES: tuple[Entity, ...] = (
    #      step         counted as       shown as         model
    #      listing                   cursor rule              row mapping
    #      options
    Entity("accounts",  "organizations", gettext_noop("Organizations"), Organization,
           BmsClient.list_accounts,  modified_since,          mapping.organization_row,
           link=currency_or_tenants, confirm=gone_if_not_found(BmsClient.get_account)),
    Entity("contacts",  "contacts",      gettext_noop("Contacts"),      Contact,
           BmsClient.list_contacts,  modified_since,          mapping.contact_row,
           link=link_by_account, confirm=gone_if_not_found(BmsClient.get_contact)),
    Entity("contracts", "contracts",     gettext_noop("Contracts"),     Contract,
           BmsClient.list_contracts, relisted_whole,          mapping.contract_row,
           link=link_by_account_name),
    Entity("tickets",   "tickets",       gettext_noop("Tickets"),       Ticket,
           BmsClient.search_tickets, last_activity_since,     mapping.ticket_row,
           link=link_by_account, confirm=gone_if_not_found(BmsClient.get_ticket)),
    Entity("invoices",  "invoices",      gettext_noop("Invoices"),      Invoice,
           BmsClient.list_invoices,  created_since_or_recent, mapping.invoice_row,
           link=link_invoices, confirm=gone_if_not_found(invoice_by_id),
           children=INVOICE_LINES, repull=OPEN_INVOICES_BY_STATUS),
)
# fmt: on

PLAN = SyncPlan(entities=ENTITIES, page_size=MAX_PAGE_SIZE, is_last_page=is_last_page, finish=link_orphans)
