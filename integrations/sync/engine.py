"""The sync engine: executes a provider's `SyncPlan` for one `SyncRun`.

Invariants:
- A run's steps are fixed when it starts and kept in its checkpoint. Each step is a paged
  listing whose pages commit together with the run's checkpoint, so a run killed at any
  point resumes at the page after its last commit (it re-reads at most the page in hand).
- Every write to the run is fenced by the worker's token: a worker that no longer owns the
  run (another took it over, or it was cancelled) stops with `LostOwnership`, writing nothing.
- Only new or changed rows are written (`upsert`), and nothing is removed: what a full
  reconcile no longer finds is marked deleted once asked for by id (`reconcile`).
- A record its mapping rejects (`RecordRejected`) is left out of its page, counted as failed
  with its reason in the same commit as the page (so a resumed run does not count it twice),
  and the run goes on: one bad record never fails a run, nor the next one.

Incremental runs ask only for what changed since the last successful run's high-water mark
(minus an overlap), as each entity's cursor rule says; rows a cursor cannot see change are
re-listed (`Repull`). A full reconcile lists everything, then checks what it did not see.
The engine knows no provider: the plan's table says what is listed, mapped and stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, partial

from django.db import connection, transaction
from django.utils import timezone

from integrations.models import SyncRun, SyncSeenPage, SyncStatus
from integrations.signals import synced_records_changed
from integrations.sync import reconcile
from integrations.sync.plan import (
    Children,
    Entity,
    ListedPage,
    RecordRejected,
    Step,
    SyncClient,
    SyncPlan,
    Window,
)
from integrations.sync.postgres import refresh_statistics, relaxed_commits
from integrations.sync.prefetch import fetched_in_parallel, prefetched
from integrations.sync.progress import page_progress
from integrations.sync.upsert import (
    Counts,
    StoredState,
    UpsertPlan,
    apply_upsert,
    live_count,
    plan_upsert,
    stored_state,
)

logger = logging.getLogger(__name__)

# Every this many rows a step creates, the planner's statistics are refreshed (PostgreSQL).
ANALYZE_AFTER_ROWS = 20_000
RECONCILE_STEP = Step("reconcile", "deleted", "Deleted records")
# The run keeps (and its page shows) the reasons of this many rejected records; all are counted.
REJECTIONS_KEPT = 50


class LostOwnership(Exception):
    """Another worker owns the run now, or it was cancelled: stop without writing."""


@dataclass(frozen=True)
class FetchedChildren:
    parent_ids: frozenset[int]
    rows: list[dict]
    rejected: tuple[RecordRejected, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """A page planned, and its new or changed records' children fetched, ahead of the writer."""

    plan: UpsertPlan
    children: FetchedChildren
    rejected: tuple[RecordRejected, ...] = ()


def mapped_rows(to_row: Callable[[object], dict], items: Sequence) -> tuple[list[dict], tuple[RecordRejected, ...]]:
    """The rows of ``items``, and the records the mapping rejected (left out)."""
    try:
        return [to_row(item) for item in items], ()  # the usual case, at list-comprehension speed
    except RecordRejected:
        pass
    rows, rejected = [], []
    for item in items:
        try:
            rows.append(to_row(item))
        except RecordRejected as exc:
            rejected.append(exc)
    return rows, tuple(rejected)


def _as_listed(page: ListedPage) -> tuple[ListedPage, Prepared | None]:
    return page, None


class SyncEngine:
    def __init__(
        self,
        run: SyncRun,
        client: SyncClient,
        *,
        plan: SyncPlan,
        worker_token: str,
        clock: Callable[[], datetime] = timezone.now,
    ):
        self.run = run
        self.client = client
        self.plan = plan
        self.page_size = plan.page_size
        self._clients = [client]
        self.token = worker_token
        self.clock = clock
        self.source_id = run.source_id
        self.incremental = run.since is not None
        self._requests_before = dict(run.requests)
        self._started = time.monotonic()
        self._records_this_process = 0
        self._rows_created = 0
        self._last_written_parents: set[int] = set()

    # --- the run ---------------------------------------------------------------------------------

    def execute(self) -> None:
        """Run the steps not done yet, each from its checkpoint, then the plan's finish."""
        done = set(self.run.checkpoint.get("done", []))
        with relaxed_commits():
            for step in self.steps():
                if step.name in done:
                    continue
                self._rows_created = 0
                self._run_step(step, start_page=self._checkpoint_page(step) + 1)
                done.add(step.name)
                self._commit(step, page=0, counts=None, step_done=sorted(done))
                if self._rows_created >= ANALYZE_AFTER_ROWS // 20:
                    self._analyze(step)
            if self.plan.finish(self.source_id):
                transaction.on_commit(self._records_changed, robust=True)

    def steps(self) -> list[Step]:
        """The run's steps: planned when it starts and kept in its checkpoint, so that a
        resumed run walks the same ones."""
        planned = self.run.checkpoint.get("plan")
        if planned is None:
            planned = [[step.name, step.entity, step.label] for step in self._plan_steps()]
            self.run.checkpoint = {**self.run.checkpoint, "plan": planned}
            self._save(checkpoint=self.run.checkpoint)
        return [Step(*item) for item in planned]

    def _plan_steps(self) -> list[Step]:
        """Each entity's listing; in an incremental run the re-pulls; in a full reconcile the
        deletion check."""
        entities = self.plan.entities
        steps = [Step(entity.name, entity.counts, entity.label) for entity in entities]
        if self.incremental:
            for entity in entities:
                repull = entity.repull
                if repull is not None:
                    groups = repull.groups(self.source_id)
                    steps += [Step(f"{repull.step}:{group}", entity.counts, repull.label) for group in groups]
                    steps.append(Step(repull.leftovers_step, entity.counts, repull.leftovers_label))
        if self.run.full_reconcile:
            steps.append(RECONCILE_STEP)
        return steps

    def _checkpoint_page(self, step: Step) -> int:
        """The last page of ``step`` committed (0: none)."""
        return self.run.checkpoint.get("page", 0) if self.run.checkpoint.get("step") == step.name else 0

    def _run_step(self, step: Step, *, start_page: int) -> None:
        if step.name == RECONCILE_STEP.name:
            return self._reconcile(step, start_page)
        for entity in self.plan.entities:
            repull = entity.repull
            if step.name == entity.name:
                return self._sync_listing(step, entity, entity.cursor(self.run), start_page)
            if repull is not None and step.name.startswith(f"{repull.step}:"):
                window = repull.window(step.name.split(":", 1)[1])
                # Noted as seen, so that the leftovers step knows which rows left the listings.
                return self._sync_listing(step, entity, window, start_page, note_seen=True)
            if repull is not None and step.name == repull.leftovers_step:
                # It resumes from what its pages noted as seen, not from a page number.
                return repull.leftovers(self, step, entity)
        raise ValueError(f"The sync plan has no step {step.name!r}.")

    # --- listings --------------------------------------------------------------------------------

    def _sync_listing(
        self, step: Step, entity: Entity, window: Window, start_page: int, *, note_seen: bool = False
    ) -> None:
        """Write each page of an entity's listing, from ``start_page`` to its end.

        A ``whole`` window's stored state is read once (not once per page) and estimates the
        listing's length; else the stored rows it selects are counted for the estimate."""
        known: StoredState | None = None
        expected = None
        if window.stored is not None:
            if window.whole:
                known = stored_state(entity.model, self.source_id, **window.stored)
                expected = live_count(known)
            else:
                expected = entity.model.objects.filter(source_id=self.source_id, **window.stored).count()
        filters = dict(window.filters)

        def list_page(client: SyncClient, number: int) -> ListedPage:
            return entity.list_page(client, number, self.page_size, **filters)

        # In a full run most records with children are new: the page is planned and its
        # children fetched ahead of the writer. Incremental: most are unchanged, the writer
        # plans the page and fetches the few children.
        prepare = self._prepared_ahead(entity) if entity.children and not self.incremental else _as_listed
        listing = self._listing(list_page, start_page, expected_records=expected, prepare=prepare)
        with closing(listing) as pages:
            for page, prepared in pages:
                self.write_items(
                    step,
                    entity,
                    page.page,
                    page.items,
                    total_records=page.total_records,
                    known=known,
                    mark_seen=False if note_seen else None,
                    note_seen=note_seen,
                    prepared=prepared,
                )

    def _listing(
        self,
        list_page: Callable[[SyncClient, int], ListedPage],
        start_page: int,
        *,
        expected_records: int | None = None,
        prepare: Callable[[ListedPage], tuple[ListedPage, Prepared | None]] = _as_listed,
    ) -> Iterator[tuple[ListedPage, Prepared | None]]:
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
                    if self.plan.is_last_page(page, served):
                        return
            number = expected_pages + 1
        # The thread's own database connection (a preparer may query) is closed when it ends.
        sequential = self._walk(partial(list_page, self.client), number)
        with closing(prefetched(sequential, prepare, on_thread_exit=lambda: connection.close())) as pages:
            yield from pages

    def _walk(self, fetch: Callable[[int], ListedPage], number: int) -> Iterator[ListedPage]:
        """``fetch(n)`` for n = number, ... until the listing ends."""
        served = 0  # the page size the server actually uses, as far as seen
        while True:
            page = fetch(number)
            yield page
            served = max(served, len(page.items))
            if self.plan.is_last_page(page, served):
                return
            number += 1

    def _prepared_ahead(self, entity: Entity) -> Callable[[ListedPage], tuple[ListedPage, Prepared]]:
        """In the prefetch thread: the page, its plan and the children of its new or changed records."""
        children = entity.children
        assert children is not None

        def prepare(page: ListedPage) -> tuple[ListedPage, Prepared]:
            rows, rejected = mapped_rows(entity.to_row, page.items)
            plan = plan_upsert(entity.model, self.source_id, rows)
            return page, Prepared(plan, _fetch_children(children, self.client, plan.changed_ids), rejected)

        return prepare

    # --- writing ---------------------------------------------------------------------------------

    def write_items(
        self,
        step: Step,
        entity: Entity,
        page_number: int,
        items: Sequence,
        *,
        total_records: int | None = None,
        known: StoredState | None = None,
        mark_seen: bool | None = None,
        note_seen: bool = False,
        prepared: Prepared | None = None,
    ) -> None:
        """Write one page of records (and their children) with the checkpoint at ``page_number``.

        ``known``: the step's stored state, kept current as rows are written (a listing that
        shifts may return a row again). ``mark_seen`` stamps every row with this run (a full
        reconcile's deletion check; by default in a full reconcile); ``note_seen`` notes the
        page's ids in one row instead (`Repull` listings). Custom steps write through this."""
        if entity.children is None:
            rows, rejected = mapped_rows(entity.to_row, items)
            plan = plan_upsert(entity.model, self.source_id, rows, known=known)
            self._write_page(
                step,
                entity,
                page_number,
                total_records,
                plan,
                mark_seen=mark_seen,
                note_seen=note_seen,
                rejected=rejected,
            )
        else:
            plan = self._write_with_children(
                step, entity, page_number, items, total_records, known, mark_seen, note_seen, prepared
            )
        if known is not None:
            _remember_written(known, plan)

    def _write_with_children(
        self,
        step: Step,
        entity: Entity,
        page_number: int,
        items: Sequence,
        total_records: int | None,
        known: StoredState | None,
        mark_seen: bool | None,
        note_seen: bool,
        prepared: Prepared | None,
    ) -> UpsertPlan:
        children = entity.children
        assert children is not None
        # The prefetch thread planned this page while the previous one was being written:
        # its plan holds unless the two pages share a record (a listing that shifted).
        if prepared is not None and not (set(prepared.plan.rows) & self._last_written_parents):
            plan, rejected = prepared.plan, prepared.rejected
        else:
            rows, rejected = mapped_rows(entity.to_row, items)
            plan = plan_upsert(entity.model, self.source_id, rows, known=known)
        self._last_written_parents = set(plan.rows)
        # Children only for new or changed records: the provider bumps a record when its children change.
        fetched = prepared.children if prepared is not None else FetchedChildren(frozenset(), [])
        missing = [row_id for row_id in plan.changed_ids if row_id not in fetched.parent_ids]
        if missing:
            extra = _fetch_children(children, self._writer_client, missing)
            fetched = FetchedChildren(
                fetched.parent_ids | extra.parent_ids, fetched.rows + extra.rows, fetched.rejected + extra.rejected
            )
        changed = set(plan.changed_ids)
        if fetched.rejected:
            # A rejected child rejects its parent: children are replaced whole, never in part.
            by_parent = {r.parent_id: r for r in fetched.rejected if r.parent_id in changed}
            if by_parent:
                plan = plan.without(by_parent)
                changed -= by_parent.keys()
                rejected += tuple(
                    RecordRejected(parent_id, f"{children.entity} {r.record_id}: {r.reason}")
                    for parent_id, r in by_parent.items()
                )
        child_rows = [row for row in fetched.rows if row[children.parent_key] in changed]
        self._write_page(
            step,
            entity,
            page_number,
            total_records,
            plan,
            child_rows=child_rows,
            mark_seen=mark_seen,
            note_seen=note_seen,
            rejected=rejected,
        )
        return plan

    def _write_page(
        self,
        step: Step,
        entity: Entity,
        page_number: int,
        total_records: int | None,
        plan: UpsertPlan,
        *,
        child_rows: list[dict] | None = None,
        mark_seen: bool | None = None,
        note_seen: bool = False,
        rejected: tuple[RecordRejected, ...] = (),
    ) -> None:
        """Commit one page's rows, its rejected records and the checkpoint in one transaction."""
        now = self.clock()
        seen = self.run.full_reconcile if mark_seen is None else mark_seen
        with transaction.atomic():
            entity.set_links(self.source_id, plan)
            counts = {
                step.entity: apply_upsert(plan, source_id=self.source_id, now=now, run_id=self.run.pk, mark_seen=seen)
            }
            if child_rows is not None:
                counts[entity.children.entity] = self._write_children(entity, plan, child_rows, now)
            # A rejected record was listed all the same: seen, so that neither the deletion check
            # nor the re-pull's leftovers ask for it again (and count it twice).
            rejected_ids = [r.record_id for r in rejected]
            if note_seen:
                SyncSeenPage.objects.create(run_id=self.run.pk, bms_ids=list(plan.rows) + rejected_ids)
            if seen and rejected_ids:
                entity.model.objects.filter(source_id=self.source_id, bms_id__in=rejected_ids).update(
                    last_seen_run=self.run.pk
                )
            self._rows_created += sum(c.created for c in counts.values())
            self._commit(
                step,
                page=page_number,
                counts=counts,
                records=len(plan.rows) + len(rejected),
                total_records=total_records,
                rejected=rejected,
            )
        if self._rows_created >= ANALYZE_AFTER_ROWS:
            # Mid-load too: each page's lookup would otherwise scan the growing table.
            self._analyze(step)

    def _write_children(self, entity: Entity, parents: UpsertPlan, rows: list[dict], now: datetime) -> Counts:
        """Write the children of the page's new or changed records; mark deleted those their
        parent no longer lists."""
        children: Children = entity.children
        if not parents.changed_ids:
            return Counts()
        parent_pks = dict(
            entity.model.objects.filter(source_id=self.source_id, bms_id__in=parents.changed_ids)
            .order_by()
            .values_list("bms_id", "pk")
        )
        parent_column = children.model._meta.get_field(children.parent_field).attname
        linked = []
        for row in rows:
            parent_pk = parent_pks.get(row.pop(children.parent_key))
            if parent_pk is not None:
                linked.append({**row, parent_column: parent_pk})
        # Records new to the portal have no stored children: nothing to compare or remove.
        only_new_parents = not parents.updated_ids
        plan = plan_upsert(children.model, self.source_id, linked, all_new=only_new_parents)
        counts = apply_upsert(plan, source_id=self.source_id, now=now, run_id=self.run.pk, mark_seen=False)
        if only_new_parents:
            return counts
        counts.deleted += (
            children.model.objects.filter(
                source_id=self.source_id, deleted_at__isnull=True, **{f"{parent_column}__in": parent_pks.values()}
            )
            .exclude(bms_id__in=[row["bms_id"] for row in linked])
            .update(deleted_at=now)
        )
        return counts

    def seen_ids(self) -> set[int]:
        """The ids this run's noted pages returned (`Repull` listings)."""
        return {
            row_id
            for row_ids in SyncSeenPage.objects.filter(run_id=self.run.pk).values_list("bms_ids", flat=True)
            for row_id in row_ids
        }

    # --- reconcile -------------------------------------------------------------------------------

    def _reconcile(self, step: Step, start_page: int) -> None:
        """Mark as deleted what the complete listings did not return, entity by entity (the
        checkpoint's page), after asking for each one by id, a chunk per commit."""
        for number, entity in enumerate(self.plan.entities, start=1):
            if number < start_page:
                continue
            while missing := reconcile.unconfirmed(entity, source_id=self.source_id, run_id=self.run.pk):
                gone, still_there, rejected = reconcile.confirm_by_id(entity, self.client, missing)
                with transaction.atomic():
                    counts = reconcile.settle(
                        entity,
                        source_id=self.source_id,
                        run_id=self.run.pk,
                        now=self.clock(),
                        asked=missing,
                        gone=gone,
                        still_there=still_there,
                    )
                    # Page number - 1: a resumed run re-enters this entity for what is left.
                    self._commit(
                        step, page=number - 1, counts={entity.counts: counts}, rejected=rejected, bucket=entity.counts
                    )
            self._commit(step, page=number, counts=None)

    # --- checkpoint, progress, fencing -----------------------------------------------------------

    def _commit(
        self,
        step: Step,
        *,
        page: int,
        counts: dict[str, Counts] | None,
        records: int = 0,
        total_records: int | None = None,
        step_done: list[str] | None = None,
        rejected: tuple[RecordRejected, ...] = (),
        bucket: str | None = None,
    ) -> None:
        """Save the checkpoint and what this commit adds to the run: counts, progress, requests,
        and the records rejected (counted as failed in ``bucket``, the step's by default)."""
        checkpoint = dict(self.run.checkpoint)
        if step_done is not None:
            checkpoint.update(done=step_done, step=None, page=0)
        else:
            checkpoint.update(step=step.name, page=page)
        # Progress, as the service counts a run's starts (a restart at the same count made none).
        checkpoint["commits"] = checkpoint.get("commits", 0) + 1
        if rejected:
            counts = self._note_rejected(checkpoint, bucket or step.entity, rejected, counts)
        merged = {entity: dict(values) for entity, values in self.run.counts.items()}
        for entity, delta in (counts or {}).items():
            totals = merged.setdefault(entity, Counts().as_dict())
            for key, value in delta.as_dict().items():
                totals[key] = totals.get(key, 0) + value  # runs saved before "failed" existed lack it
        self._records_this_process += records
        if any(c.created or c.updated or c.deleted for c in (counts or {}).values()):
            # Robust: a cache that cannot be told (Redis down) must not fail a committed page.
            transaction.on_commit(self._records_changed, robust=True)
        # A finished step leaves the progress as its last page set it.
        progress = self.run.progress
        if step_done is None:
            progress = page_progress(
                self.run.progress,
                step_name=step.name,
                label=step.label,
                page=page,
                records=records,
                total_records=total_records,
                records_per_second=self._rate(),
            )
        self._save(checkpoint=checkpoint, counts=merged, progress=progress, requests=self.requests_sent())

    def _note_rejected(
        self, checkpoint: dict, bucket: str, rejected: tuple[RecordRejected, ...], counts: dict[str, Counts] | None
    ) -> dict[str, Counts]:
        """Count the rejected records as failed in ``bucket`` and keep the first reasons in the
        checkpoint (the run page shows them)."""
        counts = dict(counts or {})
        failed = counts[bucket] = Counts(**counts[bucket].as_dict()) if bucket in counts else Counts()
        failed.failed += len(rejected)
        kept = list(checkpoint.get("rejected", []))
        for record in rejected:
            logger.warning("Sync run %s: %s %s not synced: %s", self.run.pk, bucket, record.record_id, record.reason)
            if len(kept) < REJECTIONS_KEPT:
                kept.append({"entity": bucket, "id": record.record_id, "reason": record.reason})
        checkpoint["rejected"] = kept
        return counts

    def requests_sent(self) -> dict[str, int]:
        """Every request of the run by endpoint: earlier processes' and this one's clients' (the
        sign-in included), also when the run fails before its first commit."""
        requests = dict(self._requests_before)
        for client in self._clients:
            # A copy: the prefetch thread may add an endpoint meanwhile.
            for endpoint, number in dict(client.request_counts).items():
                requests[endpoint] = requests.get(endpoint, 0) + number
        return requests

    def _rate(self) -> float | None:
        """Records per second written by this process."""
        elapsed = time.monotonic() - self._started
        return self._records_this_process / elapsed if elapsed > 0 and self._records_this_process else None

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

    def _records_changed(self) -> None:
        synced_records_changed.send(sender=SyncRun, source_id=self.source_id)

    def _analyze(self, step: Step) -> None:
        self._rows_created = 0
        refresh_statistics(
            table for entity in self.plan.entities if entity.counts == step.entity for table in entity.tables
        )

    # --- clients ---------------------------------------------------------------------------------

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()

    def _new_sibling(self) -> SyncClient:
        """Another client, for another thread (a client is used by one thread at a time);
        its requests count with the run's and it is closed with the others."""
        client = self.client.sibling()
        self._clients.append(client)
        return client

    @cached_property
    def _writer_client(self) -> SyncClient:
        """The writer's own client (for the children of changed records): the main client may
        be busy in the prefetch thread meanwhile."""
        return self._new_sibling()


def _fetch_children(children: Children, client: SyncClient, parent_ids: list[int]) -> FetchedChildren:
    rows, rejected = mapped_rows(children.to_row, children.fetch(client, parent_ids)) if parent_ids else ([], ())
    return FetchedChildren(parent_ids=frozenset(parent_ids), rows=rows, rejected=rejected)


def _remember_written(known: StoredState, plan: UpsertPlan) -> None:
    """Keep a step's stored state current: a listing that shifts may return a row again."""
    for row_id in plan.changed_ids:
        known[row_id] = (plan.rows[row_id]["sync_hash"], None)
