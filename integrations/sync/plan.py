"""What a sync plan declares, for the engine to execute: the vocabulary between a provider
and `integrations.sync.engine`.

A provider describes its sync as a table of `Entity` rows (which records, stored in which
model, listed by which call, asked for since when, mapped how, confirmed how) and hands it
to the engine in a `SyncPlan`. Nothing here knows a provider: listings, rows and ids are
whatever the provider's functions return and take.

Invariants a plan keeps:
- every row a mapping returns holds the record's external id under ``bms_id`` (the synced
  models' key, see `integrations.synced.SyncedRecord`) and nothing derived locally (links are
  set by ``link`` on changed rows only, so they are not part of a row's hash);
- a listing's pages are numbered from 1 and ``is_last_page`` tells where it ends, so a run
  resumed from a checkpoint asks for the page after it;
- step names are stable across releases: they are the keys of stored checkpoints;
- a mapping that cannot store one record (an amount that is not a number, or too large for
  its column) raises `RecordRejected` for that record alone: the run counts it as failed,
  shows why, and goes on without it (a child's rejection rejects its parent, whose children
  are replaced whole).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from django.db import models

if TYPE_CHECKING:
    from integrations.models import SyncRun
    from integrations.sync.engine import SyncEngine
    from integrations.sync.upsert import UpsertPlan


class RecordRejected(Exception):
    """A mapping refuses one record: ``record_id`` is its external id, ``reason`` what the run
    page shows; ``parent_id`` the external id of its parent record, for a child (an invoice's
    line). Never raised for a whole page: the rest of the page is written."""

    def __init__(self, record_id: int, reason: str, *, parent_id: int | None = None):
        super().__init__(f"{record_id}: {reason}")
        self.record_id = record_id
        self.reason = reason
        self.parent_id = parent_id


class ListedPage(Protocol):
    """One page of a listing, as the provider's client returns it."""

    items: Sequence[Any]
    page: int
    page_size: int
    total_records: int | None  # None where the listing does not say


class SyncClient(Protocol):
    """The provider's API client, as the engine uses it: one per thread."""

    #: endpoint → requests sent (kept in the run's ``requests``)
    request_counts: dict[str, int]

    def sibling(self) -> SyncClient:
        """Another client for another thread: same server and credentials, its own connection."""
        ...

    def close(self) -> None: ...


# (client, page number, page size, **window filters) → one page of the listing
ListPage = Callable[..., ListedPage]


@dataclass(frozen=True)
class Step:
    """One step of a run: ``name`` is its checkpoint key, ``entity`` the counts bucket its
    writes add to, ``label`` what the progress shows."""

    name: str
    entity: str
    label: str


@dataclass(frozen=True)
class Window:
    """What one listing asks for.

    ``filters`` are the listing call's keyword arguments. ``stored`` selects (Django lookups
    on the entity's model) the stored rows the listing is expected to return, for an estimate
    of its length, which lets the engine fetch its pages two at a time; None: no estimate.
    ``whole``: the listing returns all of ``stored`` every time, so what is stored of it is
    read once and each page is compared with that instead of being read page by page."""

    filters: Mapping[str, Any] = field(default_factory=dict)
    stored: Mapping[str, Any] | None = None
    whole: bool = False


# The cursor rule: what a run asks for, from the run (``run.since`` is None in a full run).
Cursor = Callable[["SyncRun"], Window]


@dataclass(frozen=True)
class Children:
    """Rows that belong to a parent row and are synced with it (an invoice's lines): fetched
    for new or changed parents only, and replaced whole (what the parent no longer lists is
    marked deleted)."""

    model: type[models.Model]
    entity: str  # the counts bucket
    parent_field: str  # the child model's foreign key to the parent model
    parent_key: str  # the key of a child row holding its parent's external id
    fetch: Callable[[SyncClient, list[int]], Sequence[Any]]  # these parents' children, as listed
    to_row: Callable[[Any], dict]  # a child → its row (may raise `RecordRejected`)


@dataclass(frozen=True)
class Repull:
    """Stored rows whose changes the entity's cursor cannot see (an invoice paid since keeps
    its creation date): in incremental runs, each group of them is re-listed whole, one step
    a group, its pages' ids noted as seen; then ``leftovers`` settles the stored rows of those
    groups that no listing returned (they left them: paid, voided, deleted)."""

    step: str  # the groups' steps are named "<step>:<group>"
    label: str
    groups: Callable[[int], Iterable[object]]  # source id → the groups to re-list, from what is stored
    window: Callable[[str], Window]  # a group (as named in its step) → its listing
    leftovers_step: str
    leftovers_label: str
    leftovers: Callable[[SyncEngine, Step, Entity], None]


@dataclass(frozen=True)
class Entity:
    """One row of a plan's table: a kind of record and how it is synced.

    ``name`` is also the name of the step that lists it. ``confirm`` is the full reconcile's
    check of a record a complete listing did not return: (client, id) → the record, or None
    when it is gone; None: the listing is complete, what it did not return is gone."""

    name: str
    counts: str  # the counts bucket shown in the sync history
    label: str
    model: type[models.Model]
    list_page: ListPage
    cursor: Cursor
    to_row: Callable[[Any], dict]  # a record → its row (may raise `RecordRejected`)
    link: Callable[[int, list[dict]], None] | None = None  # (source id, changed rows): set local links
    confirm: Callable[[SyncClient, int], Any] | None = None
    children: Children | None = None
    repull: Repull | None = None

    @property
    def tables(self) -> list[type[models.Model]]:
        return [self.model] + ([self.children.model] if self.children else [])

    def set_links(self, source_id: int, plan: UpsertPlan) -> None:
        """Set the local links of the rows about to be written: derived, not hashed, so
        unchanged rows cost no lookup (late links are the plan's ``finish``)."""
        if self.link is None:
            return
        rows = [plan.rows[row_id] for row_id in plan.changed_ids]
        if rows:
            self.link(source_id, rows)


@dataclass(frozen=True)
class SyncPlan:
    """A provider's sync: its table of entities, in the order they are listed and reconciled."""

    entities: tuple[Entity, ...]
    page_size: int  # records asked per listing request
    is_last_page: Callable[[ListedPage, int], bool]  # (page, largest page served so far)
    # After every step: late fix-ups (links to records stored later); returns rows changed.
    finish: Callable[[int], int] = lambda source_id: 0
