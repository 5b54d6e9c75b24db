"""A full reconcile's deletion check, in chunks: what a complete listing did not return is
asked for by id before it is marked deleted (a record that moved between pages during the
listing is not lost), and never removed.

Each chunk settles its ids for the run (deleted, or seen again), so they drop out of the
next chunk's query and a resumed run continues with the rest."""

from __future__ import annotations

from datetime import datetime

from integrations.sync.plan import Entity, RecordRejected, SyncClient
from integrations.sync.upsert import Counts, apply_upsert, plan_upsert

# Records a full listing missed are checked by id this many at a time, one commit each.
RECONCILE_CHUNK = 100


def unconfirmed(entity: Entity, *, source_id: int, run_id: int) -> list[int]:
    """The next chunk of live records this run has not seen."""
    return list(
        entity.model.objects.filter(source_id=source_id, deleted_at__isnull=True)
        .exclude(last_seen_run=run_id)
        .order_by("bms_id")
        .values_list("bms_id", flat=True)[:RECONCILE_CHUNK]
    )


def confirm_by_id(
    entity: Entity, client: SyncClient, ids: list[int]
) -> tuple[list[int], list[dict], tuple[RecordRejected, ...]]:
    """(ids the provider no longer has, rows of those it still has, those it still has but the
    mapping rejected: not deleted, not written)."""
    gone, still_there, rejected = [], [], []
    for record_id in ids:
        record = entity.confirm(client, record_id) if entity.confirm is not None else None
        if record is None:
            gone.append(record_id)
            continue
        try:
            still_there.append(entity.to_row(record))
        except RecordRejected as exc:
            rejected.append(exc)
    return gone, still_there, tuple(rejected)


def settle(
    entity: Entity,
    *,
    source_id: int,
    run_id: int,
    now: datetime,
    asked: list[int],
    gone: list[int],
    still_there: list[dict],
) -> Counts:
    """Write what is still there, mark what is gone (and its children) deleted: every id
    asked about is settled for this run."""
    model = entity.model
    counts = Counts()
    if still_there:
        plan = plan_upsert(model, source_id, still_there)
        entity.set_links(source_id, plan)
        counts.add(apply_upsert(plan, source_id=source_id, now=now, run_id=run_id, mark_seen=True))
        # Seen again, even if unchanged: settled for this run.
        model.objects.filter(source_id=source_id, bms_id__in=list(plan.rows)).update(last_seen_run=run_id)
    present = set(asked) - set(gone)
    model.objects.filter(source_id=source_id, bms_id__in=present).update(last_seen_run=run_id)
    counts.deleted = model.objects.filter(source_id=source_id, bms_id__in=gone).update(deleted_at=now)
    children = entity.children
    if children is not None and gone:
        children.model.objects.filter(
            source_id=source_id, deleted_at__isnull=True, **{f"{children.parent_field}__bms_id__in": gone}
        ).update(deleted_at=now)
    return counts
