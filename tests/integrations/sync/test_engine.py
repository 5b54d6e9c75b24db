"""The engine executes any plan: here a tiny one over an in-memory listing, with no provider.

It stores the listed records in a synced model (Organization, by name only), resumes a
step at the page after its checkpoint, and confirms by id what a full listing missed
before marking it deleted."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import timezone

from integrations.models import DataSource, SyncRun, SyncStatus, SyncTrigger
from integrations.sync.engine import LostOwnership, SyncEngine
from integrations.sync.plan import Entity, RecordRejected, SyncPlan, Window
from organizations.models import Organization

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class MemoryPage:
    items: tuple
    page: int
    page_size: int
    total_records: int | None = None


class MemoryClient:
    """A listing of ``records`` (id → name), ``hidden`` ids left out of it but still there."""

    def __init__(self, records: dict[int, str], hidden: frozenset[int] = frozenset()):
        self.records = records
        self.hidden = hidden
        self.request_counts: dict[str, int] = {}
        self.pages_asked: list[int] = []

    def sibling(self) -> MemoryClient:
        return self

    def close(self) -> None:
        pass

    def list_names(self, page: int, page_size: int, *, name_prefix: str = "") -> MemoryPage:
        self.request_counts["list"] = self.request_counts.get("list", 0) + 1
        self.pages_asked.append(page)
        listed = [
            {"id": record_id, "name": name}
            for record_id, name in sorted(self.records.items())
            if record_id not in self.hidden and name.startswith(name_prefix)
        ]
        return MemoryPage(tuple(listed[(page - 1) * page_size : page * page_size]), page, page_size)

    def get_name(self, record_id: int) -> dict | None:
        self.request_counts["get"] = self.request_counts.get("get", 0) + 1
        name = self.records.get(record_id)
        return None if name is None else {"id": record_id, "name": name}


NAMES = Entity(
    "names",
    "names",
    "Names",
    Organization,
    list_page=MemoryClient.list_names,
    cursor=lambda run: Window({"name_prefix": ""}),
    to_row=lambda record: {"bms_id": record["id"], "name": record["name"]},
    confirm=MemoryClient.get_name,
)
PLAN = SyncPlan(entities=(NAMES,), page_size=2, is_last_page=lambda page, served: len(page.items) < page.page_size)


@pytest.fixture
def source():
    return DataSource.objects.create(provider_key="memory", tenant_key="memory", display_name="Memory")


def _run(source, *, full_reconcile=True, checkpoint=None) -> SyncRun:
    now = timezone.now()
    return SyncRun.objects.create(
        source=source,
        trigger=SyncTrigger.SYNC_NOW,
        full_reconcile=full_reconcile,
        status=SyncStatus.RUNNING,
        worker_token="this-worker",
        started_at=now,
        high_water_mark=now,
        checkpoint=checkpoint or {},
    )


def _stored(source) -> dict[int, str]:
    live = Organization.objects.filter(source=source, deleted_at__isnull=True)
    return dict(live.values_list("bms_id", "name"))


def test_a_plan_of_one_in_memory_listing_is_synced_page_by_page(source):
    client = MemoryClient({1: "Ada", 2: "Bob", 3: "Cy", 4: "Di", 5: "Ed"})
    run = _run(source)
    SyncEngine(run, client, plan=PLAN, worker_token="this-worker").execute()
    run.refresh_from_db()
    assert _stored(source) == client.records
    assert client.pages_asked == [1, 2, 3]  # the third, short, ends the listing
    assert run.checkpoint["done"] == ["names", "reconcile"]
    assert run.counts["names"] == {"created": 5, "updated": 0, "unchanged": 0, "deleted": 0, "failed": 0}
    assert run.requests == {"list": 3}
    assert run.progress["records"] == 5


def test_a_resumed_step_starts_at_the_page_after_its_checkpoint(source):
    client = MemoryClient({1: "Ada", 2: "Bob", 3: "Cy", 4: "Di", 5: "Ed"})
    checkpoint = {"plan": [["names", "names", "Names"]], "step": "names", "page": 2}
    run = _run(source, full_reconcile=False, checkpoint=checkpoint)
    SyncEngine(run, client, plan=PLAN, worker_token="this-worker").execute()
    assert client.pages_asked == [3]
    assert _stored(source) == {5: "Ed"}


def test_a_full_reconcile_confirms_by_id_what_the_listing_missed(source):
    SyncEngine(
        _run(source), MemoryClient({1: "Ada", 2: "Bob", 3: "Cy"}), plan=PLAN, worker_token="this-worker"
    ).execute()
    SyncRun.objects.update(status=SyncStatus.SUCCEEDED)
    # 2 is gone; 3 is still there but the listing missed it (it moved between pages).
    client = MemoryClient({1: "Ada", 3: "Cy"}, hidden=frozenset({3}))
    run = _run(source)
    SyncEngine(run, client, plan=PLAN, worker_token="this-worker").execute()
    run.refresh_from_db()
    assert _stored(source) == {1: "Ada", 3: "Cy"}
    assert Organization.objects.get(source=source, bms_id=2).deleted_at is not None
    assert run.counts["names"]["deleted"] == 1
    assert client.request_counts["get"] == 2


def test_a_run_another_worker_owns_is_not_written(source):
    run = _run(source)
    with pytest.raises(LostOwnership):
        SyncEngine(run, MemoryClient({1: "Ada"}), plan=PLAN, worker_token="another-worker").execute()
    assert not Organization.objects.exists()


# --- hardening 5: a mapping may reject one record; the run counts it, shows why, goes on -------


def _name_row(record: dict) -> dict:
    if record["name"].startswith("!"):
        raise RecordRejected(record["id"], f"name {record['name']!r} cannot be stored")
    return {"bms_id": record["id"], "name": record["name"]}


PICKY = Entity(
    "names",
    "names",
    "Names",
    Organization,
    list_page=MemoryClient.list_names,
    cursor=lambda run: Window({"name_prefix": ""}),
    to_row=_name_row,
    confirm=MemoryClient.get_name,
)
PICKY_PLAN = SyncPlan(entities=(PICKY,), page_size=2, is_last_page=PLAN.is_last_page)


def test_hardening_5_a_rejected_record_is_counted_with_its_reason_and_the_run_goes_on(source):
    client = MemoryClient({1: "Ada", 2: "!Bob", 3: "Cy", 4: "!Di", 5: "Ed"})
    run = _run(source)
    SyncEngine(run, client, plan=PICKY_PLAN, worker_token="this-worker").execute()
    run.refresh_from_db()
    assert _stored(source) == {1: "Ada", 3: "Cy", 5: "Ed"}
    assert run.counts["names"] == {"created": 3, "updated": 0, "unchanged": 0, "deleted": 0, "failed": 2}
    assert run.checkpoint["rejected"] == [
        {"entity": "names", "id": 2, "reason": "name '!Bob' cannot be stored"},
        {"entity": "names", "id": 4, "reason": "name '!Di' cannot be stored"},
    ]
    assert run.checkpoint["done"] == ["names", "reconcile"]
    assert run.progress["records"] == 5


def test_hardening_5_a_record_rejected_on_reconcile_is_neither_written_nor_deleted(source):
    SyncEngine(_run(source), MemoryClient({1: "Ada", 2: "Bob"}), plan=PICKY_PLAN, worker_token="this-worker").execute()
    SyncRun.objects.update(status=SyncStatus.SUCCEEDED)
    # 2 still exists but the listing missed it, and what it now holds cannot be stored.
    client = MemoryClient({1: "Ada", 2: "!Bob"}, hidden=frozenset({2}))
    run = _run(source)
    SyncEngine(run, client, plan=PICKY_PLAN, worker_token="this-worker").execute()
    run.refresh_from_db()
    assert _stored(source) == {1: "Ada", 2: "Bob"}  # kept as it was, not marked deleted
    assert run.counts["names"]["failed"] == 1 and run.counts["names"]["deleted"] == 0
    assert run.checkpoint["rejected"][0]["id"] == 2


def test_hardening_5_the_run_keeps_the_first_reasons_and_counts_them_all(source, monkeypatch):
    from integrations.sync import engine

    monkeypatch.setattr(engine, "REJECTIONS_KEPT", 3)
    client = MemoryClient({n: f"!{n}" for n in range(1, 8)})
    run = _run(source)
    SyncEngine(run, client, plan=PICKY_PLAN, worker_token="this-worker").execute()
    run.refresh_from_db()
    assert run.counts["names"]["failed"] == 7
    assert [r["id"] for r in run.checkpoint["rejected"]] == [1, 2, 3]


def test_hardening_5_a_stored_record_rejected_on_a_full_listing_is_seen_not_asked_again(source):
    SyncEngine(_run(source), MemoryClient({1: "Ada", 2: "Bob"}), plan=PICKY_PLAN, worker_token="this-worker").execute()
    SyncRun.objects.update(status=SyncStatus.SUCCEEDED)
    client = MemoryClient({1: "Ada", 2: "!Bob"})  # listed, but what it now holds cannot be stored
    run = _run(source)
    SyncEngine(run, client, plan=PICKY_PLAN, worker_token="this-worker").execute()
    run.refresh_from_db()
    assert _stored(source) == {1: "Ada", 2: "Bob"}  # kept as it was
    assert run.counts["names"]["failed"] == 1  # once: the deletion check does not ask for it again
    assert "get" not in client.request_counts
