"""The BMS sync: a list of steps, each a paged listing whose pages commit together
with the run's checkpoint, so a run killed at any point resumes where it stopped.

Incremental runs ask BMS only for what changed since the last successful run's
high-water mark (minus an overlap): accounts and contacts by ModifiedOnFrom, tickets by
LastActivityUpdateFrom, invoices by CreatedFrom plus a re-pull of the invoices not fully
paid; contracts have no filter and are re-pulled whole and diffed. A full reconcile lists
everything and then marks what BMS no longer has as deleted (never removing it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property, partial

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from billing.models import Invoice, InvoiceLine
from integrations.models import SyncRun, SyncSeenPage, SyncStatus
from integrations.signals import synced_records_changed
from integrations.sync import mapping
from integrations.sync.prefetch import fetched_in_parallel, prefetched
from integrations.sync.upsert import (
    Counts,
    StoredState,
    UpsertPlan,
    apply_upsert,
    live_count,
    plan_upsert,
    stored_state,
)
from organizations.models import Contact, Contract, Organization, Ticket
from providers.kaseya_bms.client import MAX_PAGE_SIZE, BmsClient, is_last_page
from providers.kaseya_bms.exceptions import BmsNotFound
from providers.kaseya_bms.types import Page

# Invoices that left the open listings: fetched one by one (this many per checkpoint), or
# listed by creation date when a cluster of them lies within this window.
CLOSED_INVOICE_BATCH = 50
CLOSED_INVOICE_WINDOW = timedelta(days=7)
# Records a full listing missed are checked by id this many at a time, one commit each.
RECONCILE_CHUNK = 100
# Every this many rows a step creates, the planner's statistics are refreshed (PostgreSQL).
ANALYZE_AFTER_ROWS = 20_000


class LostOwnership(Exception):
    """Another worker owns the run now, or it was cancelled: stop without writing."""


@dataclass(frozen=True)
class FetchedLines:
    invoice_ids: frozenset[int]
    rows: list[dict]


@dataclass(frozen=True)
class PreparedInvoices:
    plan: UpsertPlan
    lines: FetchedLines


@dataclass(frozen=True)
class Step:
    name: str  # also the checkpoint key
    entity: str  # the counts bucket shown in the sync history
    label: str


class SyncEngine:
    # Records per listing request: BMS's largest page.
    page_size = MAX_PAGE_SIZE

    def __init__(
        self,
        run: SyncRun,
        client: BmsClient,
        *,
        worker_token: str,
        clock: Callable[[], datetime] = timezone.now,
    ):
        self.run = run
        self.client = client
        self._clients = [client]
        self.token = worker_token
        self.clock = clock
        self.source_id = run.source_id
        self.incremental = run.since is not None
        self._requests_before = dict(run.requests)
        self._started = time.monotonic()
        self._records_this_process = 0
        self._rows_created = 0
        self._last_written_invoices: set[int] = set()

    # --- plan ------------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        plan = self.run.checkpoint.get("plan")
        if plan is None:
            plan = self._make_plan()
            self.run.checkpoint = {**self.run.checkpoint, "plan": plan}
            self._save(checkpoint=self.run.checkpoint)
        return [Step(*item) for item in plan]

    def _make_plan(self) -> list[list[str]]:
        plan = [
            ["accounts", "organizations", "Organizations"],
            ["contacts", "contacts", "Contacts"],
            ["contracts", "contracts", "Contracts"],
            ["tickets", "tickets", "Tickets"],
            ["invoices", "invoices", "Invoices"],
        ]
        if self.incremental:
            # Open invoices change (payments, status) without BMS offering a modified-date
            # filter: re-list each status that open invoices have, then fetch the ones that
            # left those listings.
            status_ids = sorted(
                {
                    sid
                    for sid in Invoice.objects.filter(
                        source_id=self.source_id, deleted_at__isnull=True, balance_due__gt=0
                    )
                    .order_by()
                    .values_list("status_bms_id", flat=True)
                    if sid is not None
                }
            )
            plan += [[f"open_invoices:{sid}", "invoices", "Open invoices"] for sid in status_ids]
            plan.append(["closed_invoices", "invoices", "Paid invoices"])
        if self.run.full_reconcile:
            plan.append(["reconcile", "deleted", "Deleted records"])
        return plan

    # --- run -------------------------------------------------------------------------------------

    def execute(self) -> None:
        done = set(self.run.checkpoint.get("done", []))
        with _relaxed_commits():
            for step in self.steps():
                if step.name in done:
                    continue
                handler = self._handler(step)
                at_page = self.run.checkpoint.get("page", 0) if self.run.checkpoint.get("step") == step.name else 0
                self._rows_created = 0
                handler(step, at_page + 1)
                done.add(step.name)
                self._commit(step, page=0, counts=None, step_done=sorted(done))
                if self._rows_created >= ANALYZE_AFTER_ROWS // 20:
                    self._analyze(step)
            self._link_orphans()

    def _analyze(self, step: Step) -> None:
        """Refresh PostgreSQL's statistics after a bulk load: until autovacuum gets to it, the
        planner takes a fresh table for empty and scans it whole for every page's lookup."""
        self._rows_created = 0
        if connection.vendor != "postgresql":
            return
        tables = {
            "organizations": [Organization],
            "contacts": [Contact],
            "contracts": [Contract],
            "tickets": [Ticket],
            "invoices": [Invoice, InvoiceLine],
        }.get(step.entity, [])
        with connection.cursor() as cursor:
            for model in tables:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")

    def _handler(self, step: Step) -> Callable[[Step, int], None]:
        if step.name.startswith("open_invoices:"):
            return self._sync_open_invoices
        return {
            "accounts": self._sync_accounts,
            "contacts": self._sync_contacts,
            "contracts": self._sync_contracts,
            "tickets": self._sync_tickets,
            "invoices": self._sync_invoices,
            "closed_invoices": self._sync_closed_invoices,
            "reconcile": self._reconcile,
        }[step.name]

    @property
    def _since(self) -> datetime | None:
        return self.run.since

    @property
    def _mark_seen(self) -> bool:
        return self.run.full_reconcile

    # --- steps -----------------------------------------------------------------------------------

    def _sync_accounts(self, step: Step, start_page: int) -> None:
        since = self._since
        listing = self._listing(
            lambda client, n: client.list_accounts(n, self.page_size, modified_from=since), start_page
        )
        self._sync_listed(step, Organization, mapping.organization_row, listing)

    def _sync_contacts(self, step: Step, start_page: int) -> None:
        since = self._since
        listing = self._listing(
            lambda client, n: client.list_contacts(n, self.page_size, modified_from=since), start_page
        )
        self._sync_listed(step, Contact, mapping.contact_row, listing)

    def _sync_contracts(self, step: Step, start_page: int) -> None:
        # Re-listed whole every run: what is stored is read once, not once per page.
        known = stored_state(Contract, self.source_id)
        listing = self._listing(
            lambda client, n: client.list_contracts(n, self.page_size),
            start_page,
            expected_records=live_count(known),
        )
        self._sync_listed(step, Contract, mapping.contract_row, listing, known=known)

    def _sync_tickets(self, step: Step, start_page: int) -> None:
        since = self._since
        listing = self._listing(
            lambda client, n: client.search_tickets(n, self.page_size, last_activity_from=since), start_page
        )
        self._sync_listed(step, Ticket, mapping.ticket_row, listing)

    def _sync_listed(
        self, step: Step, model: type, to_row: Callable, listing: Iterator, *, known: StoredState | None = None
    ) -> None:
        """Write each page of a listing (records without lines: all but invoices)."""
        with closing(listing) as pages:
            for page in pages:
                plan = plan_upsert(model, self.source_id, [to_row(item) for item in page.items], known=known)
                self._write_page(step, page.page, page.total_records, [plan])
                if known is not None:
                    _remember_written(known, plan)

    def _sync_invoices(self, step: Step, start_page: int) -> None:
        created_from = None
        expected = None
        if self._since is not None:
            recent = self.run.high_water_mark - timedelta(days=settings.SYNC_INVOICE_RECENT_DAYS)
            created_from = min(self._since, recent)
            # The recent window: about what is stored of it.
            expected = Invoice.objects.filter(source_id=self.source_id, bms_created_on__gte=created_from).count()
        listing = self._listing(
            lambda client, n: client.list_invoices(n, self.page_size, created_from=created_from),
            start_page,
            expected_records=expected,
            prepare=self._invoice_preparer(),
        )
        with closing(listing) as pages:
            for page, prepared in pages:
                self._write_invoice_page(step, page.page, page.items, mark_seen=self._mark_seen, prepared=prepared)

    def _sync_open_invoices(self, step: Step, start_page: int) -> None:
        status_id = int(step.name.split(":", 1)[1])
        known = stored_state(Invoice, self.source_id, status_bms_id=status_id)
        listing = self._listing(
            lambda client, n: client.list_invoices(n, self.page_size, status_id=status_id),
            start_page,
            expected_records=live_count(known),
            prepare=self._invoice_preparer(),
        )
        with closing(listing) as pages:
            for page, prepared in pages:
                # Noted as seen, so the closed_invoices step knows which open invoices left the listings.
                self._write_invoice_page(
                    step, page.page, page.items, mark_seen=False, note_seen=True, known=known, prepared=prepared
                )

    def _listing(
        self,
        list_page: Callable[[BmsClient, int], Page],
        start_page: int,
        *,
        expected_records: int | None = None,
        prepare: Callable[[Page], object] = lambda page: page,
    ) -> Iterator:
        """``prepare(page)`` for each page of a listing, from ``start_page`` to its end.

        Where the portal knows about how many records the listing holds, the pages those
        fill are fetched two at a time, each by a client of its own, at most two pages
        ahead of the writer (a listing that ends sooner wastes at most those two requests).
        Past them, or without an estimate, the next page is fetched while this one is
        written. Either way a resumed run starts at the page after its checkpoint."""
        number, served = start_page, 0
        expected_pages = -(-expected_records // self.page_size) if expected_records else 0
        if expected_pages > number:
            fetchers = [partial(list_page, self._new_sibling()) for _ in range(2)]
            with closing(fetched_in_parallel(fetchers, number, expected_pages)) as pages:
                for page in pages:
                    served = max(served, len(page.items))
                    yield prepare(page)
                    if is_last_page(page, served):
                        return
            number = expected_pages + 1
        # The thread's own database connection (a preparer may query) is closed when it ends.
        sequential = BmsClient.iter_pages(partial(list_page, self.client), number)
        with closing(prefetched(sequential, prepare, on_thread_exit=lambda: connection.close())) as pages:
            yield from pages

    def _invoice_preparer(self) -> Callable:
        """What is done beyond downloading a page of invoices, ahead of the writer. In a full
        run most invoices are new, so the page is planned and its lines fetched too; in an
        incremental run most are unchanged, so the writer plans it and fetches the few lines."""
        if self._since is None:
            return self._with_lines
        return lambda page: (page, None)

    def _sync_closed_invoices(self, step: Step, start_page: int) -> None:
        """Open invoices no open-status listing returned: paid, voided or deleted since.

        BMS can only filter invoices by id (one per request) or by creation date, so each
        cluster of such invoices is fetched whichever way costs fewer requests. Resuming
        needs no page number: what was fetched is noted as seen and drops out of the set."""
        seen = {
            bms_id
            for bms_ids in SyncSeenPage.objects.filter(run_id=self.run.pk).values_list("bms_ids", flat=True)
            for bms_id in bms_ids
        }
        stale = [
            (bms_id, created)
            for bms_id, created in Invoice.objects.filter(
                source_id=self.source_id, deleted_at__isnull=True, balance_due__gt=0
            )
            .exclude(last_seen_run=self.run.pk)  # written by this run: as fresh as it gets
            .order_by("bms_created_on", "bms_id")
            .values_list("bms_id", "bms_created_on")
            if bms_id not in seen
        ]
        for number, (ids, window) in enumerate(self._closed_invoice_units(stale), start=1):
            if window is None:
                found = [
                    invoice for bms_id in ids for invoice in self.client.list_invoices(1, 1, invoice_id=bms_id).items
                ]
                self._write_invoice_page(step, number, found, mark_seen=False, note_seen=True)
                continue
            pages = self.client.iter_invoice_pages(
                page_size=self.page_size, created_from=window[0], created_to=window[1]
            )
            for page in pages:
                self._write_invoice_page(step, number, page.items, mark_seen=False, note_seen=True)

    def _closed_invoice_units(
        self, stale: list[tuple[int, datetime | None]]
    ) -> Iterable[tuple[list[int], tuple | None]]:
        """(ids, None) to fetch one by one, or (ids, (created_from, created_to)) to list."""
        cluster: list[tuple[int, datetime | None]] = []

        def flush():
            ids = [bms_id for bms_id, _ in cluster]
            dated = [created for _, created in cluster if created is not None]
            if len(dated) == len(cluster) and len(cluster) > 1:
                window = (dated[0], dated[-1])
                listed = Invoice.objects.filter(
                    source_id=self.source_id, bms_created_on__gte=window[0], bms_created_on__lte=window[1]
                ).count()
                if -(-listed // self.page_size) < len(ids):
                    return [(ids, window)]
            return [(ids[i : i + CLOSED_INVOICE_BATCH], None) for i in range(0, len(ids), CLOSED_INVOICE_BATCH)]

        for bms_id, created in stale:
            if cluster and (
                created is None or cluster[0][1] is None or created - cluster[0][1] > CLOSED_INVOICE_WINDOW
            ):
                yield from flush()
                cluster = []
            cluster.append((bms_id, created))
        if cluster:
            yield from flush()

    # --- writing ---------------------------------------------------------------------------------

    def _link_organizations(self, plan: UpsertPlan) -> None:
        """Set the organization of the rows about to be written. The link is derived (from
        the BMS account id, or for contracts the account name), so it is not part of a
        row's hash: unchanged rows cost no lookup. `_link_orphans` fills in late links."""
        rows = [plan.rows[bms_id] for bms_id in plan.changed_ids]
        if not rows or plan.model not in (Contact, Contract, Ticket, Invoice):
            return
        organizations = Organization.objects.filter(source_id=self.source_id).order_by("pk")
        if plan.model is Contract:
            by_name: dict[str, int] = {}
            names = {row["account_name"] for row in rows if row["account_name"]}
            for pk, name in organizations.filter(name__in=names).values_list("pk", "name"):
                by_name.setdefault(name, pk)
            for row in rows:
                row["organization_id"] = by_name.get(row["account_name"])
            return
        account_ids = {row["bms_account_id"] for row in rows if row["bms_account_id"] is not None}
        by_account = dict(organizations.filter(bms_id__in=account_ids).values_list("bms_id", "pk"))
        for row in rows:
            row["organization_id"] = by_account.get(row["bms_account_id"])

    def _link_orphans(self) -> None:
        """Link records stored before their organization was (an account created mid-run)."""
        linked = 0
        for model in (Contact, Ticket, Invoice):
            organization = Organization.objects.filter(source_id=self.source_id, bms_id=OuterRef("bms_account_id"))
            linked += (
                model.objects.filter(source_id=self.source_id, organization__isnull=True)
                .filter(Exists(organization))
                .update(organization_id=Subquery(organization.values("pk")[:1]))
            )
        if linked:
            transaction.on_commit(self._records_changed, robust=True)

    def _records_changed(self) -> None:
        synced_records_changed.send(sender=SyncRun, source_id=self.source_id)

    def _with_lines(self, page) -> tuple:
        """In the prefetch thread: the page, its plan and the lines of its new or changed invoices."""
        plan = plan_upsert(Invoice, self.source_id, [mapping.invoice_row(i) for i in page.items])
        return page, PreparedInvoices(plan, self._fetch_lines(self.client, plan.changed_ids))

    @staticmethod
    def _fetch_lines(client: BmsClient, invoice_ids: list[int]) -> FetchedLines:
        rows: list[dict] = []
        if invoice_ids:
            for line_page in client.iter_invoice_line_item_pages(invoice_ids):
                rows.extend(mapping.invoice_line_row(line) for line in line_page.items)
        return FetchedLines(invoice_ids=frozenset(invoice_ids), rows=rows)

    def _write_invoice_page(
        self,
        step: Step,
        page_number: int,
        invoices: Iterable,
        *,
        mark_seen: bool,
        note_seen: bool = False,
        known: StoredState | None = None,
        prepared: PreparedInvoices | None = None,
    ) -> None:
        # The prefetch thread planned this page while the previous one was being written:
        # its plan holds unless the two pages share an invoice (a listing that shifted).
        if prepared is not None and not (set(prepared.plan.rows) & self._last_written_invoices):
            plan = prepared.plan
        else:
            plan = plan_upsert(Invoice, self.source_id, [mapping.invoice_row(i) for i in invoices], known=known)
        self._last_written_invoices = set(plan.rows)
        prefetched_lines = prepared.lines if prepared is not None else None
        # Lines only for new or changed invoices: BMS bumps an invoice when its lines change.
        lines = prefetched_lines or FetchedLines(frozenset(), [])
        missing = [bms_id for bms_id in plan.changed_ids if bms_id not in lines.invoice_ids]
        if missing:
            extra = self._fetch_lines(self._writer_client, missing)
            lines = FetchedLines(lines.invoice_ids | extra.invoice_ids, lines.rows + extra.rows)
        changed = set(plan.changed_ids)
        line_rows = [row for row in lines.rows if row["bms_invoice_id"] in changed]
        self._write_page(
            step,
            page_number,
            None,
            [plan],
            after=lambda now: self._write_lines(plan, line_rows, now),
            mark_seen=mark_seen,
            note_seen=note_seen,
        )
        if known is not None:
            _remember_written(known, plan)

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()

    def _new_sibling(self) -> BmsClient:
        """Another client, for another thread (a client is used by one thread at a time);
        its requests count with the run's and it is closed with the others."""
        client = self.client.sibling()
        self._clients.append(client)
        return client

    @cached_property
    def _writer_client(self) -> BmsClient:
        """The writer's own client (for the lines of changed invoices): the main client may
        be busy in the prefetch thread meanwhile."""
        return self._new_sibling()

    def _write_lines(self, invoices: UpsertPlan, line_rows: list[dict], now: datetime) -> Counts:
        if not invoices.changed_ids:
            return Counts()
        invoice_pks = dict(
            Invoice.objects.filter(source_id=self.source_id, bms_id__in=invoices.changed_ids)
            .order_by()
            .values_list("bms_id", "pk")
        )
        rows = []
        for row in line_rows:
            invoice_pk = invoice_pks.get(row.pop("bms_invoice_id"))
            if invoice_pk is not None:
                rows.append({**row, "invoice_id": invoice_pk})
        # Invoices new to the portal have no stored lines: nothing to compare or remove.
        only_new_invoices = not invoices.updated_ids
        plan = plan_upsert(InvoiceLine, self.source_id, rows, all_new=only_new_invoices)
        counts = apply_upsert(plan, source_id=self.source_id, now=now, run_id=self.run.pk, mark_seen=False)
        if only_new_invoices:
            return counts
        # Lines BMS no longer lists on these invoices were removed from them.
        counts.deleted += (
            InvoiceLine.objects.filter(
                source_id=self.source_id, invoice_id__in=invoice_pks.values(), deleted_at__isnull=True
            )
            .exclude(bms_id__in=[row["bms_id"] for row in rows])
            .update(deleted_at=now)
        )
        return counts

    def _write_page(
        self,
        step: Step,
        page_number: int,
        total_records: int | None,
        plans: list[UpsertPlan],
        *,
        after: Callable[[datetime], Counts] | None = None,
        mark_seen: bool | None = None,
        note_seen: bool = False,
    ) -> None:
        """Commit one page's rows and the checkpoint in one transaction.

        ``mark_seen`` stamps every row with this run (a full reconcile's deletion check);
        ``note_seen`` notes the page's ids in one row instead (the open-invoice listings)."""
        now = self.clock()
        seen = self._mark_seen if mark_seen is None else mark_seen
        with transaction.atomic():
            counts = {step.entity: Counts()}
            for plan in plans:
                self._link_organizations(plan)
                counts[step.entity].add(
                    apply_upsert(plan, source_id=self.source_id, now=now, run_id=self.run.pk, mark_seen=seen)
                )
            if after is not None:
                counts["invoice lines"] = after(now)
            if note_seen:
                SyncSeenPage.objects.create(run_id=self.run.pk, bms_ids=[bms_id for p in plans for bms_id in p.rows])
            self._rows_created += sum(c.created for c in counts.values())
            records = sum(len(plan.rows) for plan in plans)
            self._commit(step, page=page_number, counts=counts, records=records, total_records=total_records)
        if self._rows_created >= ANALYZE_AFTER_ROWS:
            # Mid-load too: each page's lookup would otherwise scan the growing table.
            self._analyze(step)

    def _commit(
        self,
        step: Step,
        *,
        page: int,
        counts: dict[str, Counts] | None,
        records: int = 0,
        total_records: int | None = None,
        step_done: list[str] | None = None,
    ) -> None:
        checkpoint = dict(self.run.checkpoint)
        if step_done is not None:
            checkpoint.update(done=step_done, step=None, page=0)
        else:
            checkpoint.update(step=step.name, page=page)
        merged = {entity: dict(values) for entity, values in self.run.counts.items()}
        for entity, delta in (counts or {}).items():
            bucket = merged.setdefault(entity, Counts().as_dict())
            for key, value in delta.as_dict().items():
                bucket[key] += value
        self._records_this_process += records
        if any(c.created or c.updated or c.deleted for c in (counts or {}).values()):
            # Robust: a cache that cannot be told (Redis down) must not fail a committed page.
            transaction.on_commit(self._records_changed, robust=True)
        # A finished step leaves the progress as its last page set it.
        progress = self.run.progress if step_done is not None else self._progress(step, page, records, total_records)
        requests = dict(self._requests_before)
        for client in self._clients:
            # A copy: the prefetch thread may add an endpoint meanwhile.
            for endpoint, number in dict(client.request_counts).items():
                requests[endpoint] = requests.get(endpoint, 0) + number
        self._save(checkpoint=checkpoint, counts=merged, progress=progress, requests=requests)

    def _progress(self, step: Step, page: int, records: int, total_records: int | None) -> dict:
        previous = self.run.progress if self.run.progress.get("step") == step.name else {}
        step_records = previous.get("step_records", 0) + records
        done_records = self.run.progress.get("records", 0) + records
        elapsed = time.monotonic() - self._started
        rate = self._records_this_process / elapsed if elapsed > 0 and self._records_this_process else None
        total = total_records if total_records is not None else previous.get("step_total")
        eta = None
        if rate and total:
            eta = max(total - step_records, 0) / rate
        return {
            "step": step.name,
            "entity": step.label,
            "page": page,
            "pages": self.run.progress.get("pages", 0) + 1,
            "step_records": step_records,
            "step_total": total,
            "records": done_records,
            "records_per_second": round(rate, 1) if rate else None,
            "eta_seconds": round(eta) if eta is not None else None,
        }

    def _save(self, **fields) -> None:
        """Write run fields, fenced: only while this worker owns the running run."""
        fields["heartbeat_at"] = timezone.now()
        updated = SyncRun.objects.filter(pk=self.run.pk, worker_token=self.token, status=SyncStatus.RUNNING).update(
            **fields
        )
        if not updated:
            raise LostOwnership(f"Sync run {self.run.pk} is no longer owned by this worker.")
        for name, value in fields.items():
            setattr(self.run, name, value)

    # --- reconcile -------------------------------------------------------------------------------

    def _reconcile(self, step: Step, start_page: int) -> None:
        """Mark as deleted what a complete listing did not return, after asking BMS for each
        one by id: a record that moved between pages during the listing is not lost.

        Each chunk commits with the checkpoint; what it settled (deleted, or seen again)
        drops out of the query, so a resumed run continues with the rest."""
        checks: list[tuple[type, str, Callable[[int], object] | None, Callable[[object], dict]]] = [
            (Organization, "organizations", self.client.get_account, mapping.organization_row),
            (Contact, "contacts", self.client.get_contact, mapping.contact_row),
            (Contract, "contracts", None, mapping.contract_row),
            (Ticket, "tickets", self.client.get_ticket, mapping.ticket_row),
            (Invoice, "invoices", self._get_invoice, mapping.invoice_row),
        ]
        for number, (model, entity, fetch, to_row) in enumerate(checks, start=1):
            if number < start_page:
                continue
            while True:
                missing = list(
                    model.objects.filter(source_id=self.source_id, deleted_at__isnull=True)
                    .exclude(last_seen_run=self.run.pk)
                    .order_by("bms_id")
                    .values_list("bms_id", flat=True)[:RECONCILE_CHUNK]
                )
                if not missing:
                    break
                gone, still_there = self._ask_bms(fetch, to_row, missing)
                with transaction.atomic():
                    counts = self._settle_missing(model, missing, gone, still_there)
                    # Page number - 1: a resumed run re-enters this entity for what is left.
                    self._commit(step, page=number - 1, counts={entity: counts})
            self._commit(step, page=number, counts=None)

    @staticmethod
    def _ask_bms(fetch, to_row, missing: list[int]) -> tuple[list[int], list[dict]]:
        """(ids BMS no longer has, rows of those it still has)."""
        gone, still_there = [], []
        for bms_id in missing:
            try:
                record = fetch(bms_id) if fetch is not None else None
            except BmsNotFound:
                record = None
            if record is None:
                gone.append(bms_id)
            else:
                still_there.append(to_row(record))
        return gone, still_there

    def _settle_missing(self, model, missing: list[int], gone: list[int], still_there: list[dict]) -> Counts:
        now = self.clock()
        counts = Counts()
        if still_there:
            plan = plan_upsert(model, self.source_id, still_there)
            self._link_organizations(plan)
            counts.add(apply_upsert(plan, source_id=self.source_id, now=now, run_id=self.run.pk, mark_seen=True))
            # Seen again, even if unchanged: settled for this run.
            model.objects.filter(source_id=self.source_id, bms_id__in=list(plan.rows)).update(last_seen_run=self.run.pk)
        # Everything asked about is settled for this run: deleted, or seen again.
        present = set(missing) - set(gone)
        model.objects.filter(source_id=self.source_id, bms_id__in=present).update(last_seen_run=self.run.pk)
        counts.deleted = model.objects.filter(source_id=self.source_id, bms_id__in=gone).update(deleted_at=now)
        if model is Invoice and gone:
            InvoiceLine.objects.filter(
                source_id=self.source_id, invoice__bms_id__in=gone, deleted_at__isnull=True
            ).update(deleted_at=now)
        return counts

    def _get_invoice(self, bms_id: int):
        page = self.client.list_invoices(1, 1, invoice_id=bms_id)
        return page.items[0] if page.items else None


def _remember_written(known: StoredState, plan: UpsertPlan) -> None:
    """Keep a step's stored state current: a listing that shifts may return a row again."""
    for bms_id in plan.changed_ids:
        known[bms_id] = (plan.rows[bms_id]["sync_hash"], None)


@contextmanager
def _relaxed_commits() -> Iterator[None]:
    """The run's commits need not wait for the disk (PostgreSQL): after a database crash the
    last pages and their checkpoint are lost together, and the resumed run reads them again.
    Nothing else is at stake, and each page saves a flush. Reset after the run, since the
    connection serves other work next."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
        except DatabaseError:  # the connection is gone, and the setting with it
            pass
