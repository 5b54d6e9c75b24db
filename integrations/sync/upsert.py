"""Bulk upserts of synced rows: one read and at most one write per page, and only the
rows whose content changed are written (so re-running an identical sync writes nothing)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import models


def row_hash(row: dict) -> str:
    """A digest of a row's synced values (stable across runs and processes)."""
    payload = json.dumps(row, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0  # records the mapping rejected (not written)

    def add(self, other: Counts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.failed += other.failed

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "failed": self.failed,
        }


@dataclass
class UpsertPlan:
    model: type[models.Model]
    rows: dict[int, dict]  # bms_id -> row, deduplicated, hash included
    created_ids: list[int] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)
    unchanged_ids: list[int] = field(default_factory=list)

    @property
    def changed_ids(self) -> list[int]:
        return self.created_ids + self.updated_ids

    @property
    def counts(self) -> Counts:
        return Counts(created=len(self.created_ids), updated=len(self.updated_ids), unchanged=len(self.unchanged_ids))

    def without(self, ids: Iterable[int]) -> UpsertPlan:
        """This plan less the rows of ``ids`` (records rejected after planning)."""
        dropped = set(ids)
        return UpsertPlan(
            model=self.model,
            rows={row_id: row for row_id, row in self.rows.items() if row_id not in dropped},
            created_ids=[row_id for row_id in self.created_ids if row_id not in dropped],
            updated_ids=[row_id for row_id in self.updated_ids if row_id not in dropped],
            unchanged_ids=[row_id for row_id in self.unchanged_ids if row_id not in dropped],
        )


# bms_id -> (sync_hash, deleted_at) of what is stored.
StoredState = dict[int, tuple[str, datetime | None]]


def stored_state(model: type[models.Model], source_id: int, **filters) -> StoredState:
    """What is stored of the rows the filters select, in one query (a step that re-lists
    many rows reads it once instead of once per page)."""
    return {
        bms_id: (sync_hash, deleted_at)
        for bms_id, sync_hash, deleted_at in model.objects.filter(source_id=source_id, **filters)
        .order_by()  # no default ordering: it would join the parent table for nothing
        .values_list("bms_id", "sync_hash", "deleted_at")
    }


def live_count(state: StoredState) -> int:
    """How many of the stored rows are not marked deleted."""
    return sum(1 for _sync_hash, deleted_at in state.values() if deleted_at is None)


def plan_upsert(
    model: type[models.Model],
    source_id: int,
    rows: Iterable[dict],
    *,
    all_new: bool = False,
    known: StoredState | None = None,
) -> UpsertPlan:
    """Compare rows with what is stored and sort them into new/changed/unchanged.

    ``known`` is stored state read beforehand (`stored_state`); rows not in it are read
    here, in one query. ``all_new`` skips the query where the caller knows none can be
    stored yet (the lines of invoices this page creates)."""
    by_id: dict[int, dict] = {}
    for row in rows:
        by_id[row["bms_id"]] = {**row, "sync_hash": row_hash(row)}
    plan = UpsertPlan(model=model, rows=by_id)
    if all_new:
        plan.created_ids = list(by_id)
        return plan
    known = known if known is not None else {}
    unknown = [bms_id for bms_id in by_id if bms_id not in known]
    fetched = stored_state(model, source_id, bms_id__in=unknown) if unknown else {}
    for bms_id, row in by_id.items():
        previous = known.get(bms_id) or fetched.get(bms_id)
        if previous is None:
            plan.created_ids.append(bms_id)
        elif previous[0] != row["sync_hash"] or previous[1] is not None:
            plan.updated_ids.append(bms_id)
        else:
            plan.unchanged_ids.append(bms_id)
    return plan


def apply_upsert(plan: UpsertPlan, *, source_id: int, now: datetime, run_id: int | None, mark_seen: bool) -> Counts:
    """Write the plan's new and changed rows with INSERT … ON CONFLICT DO UPDATE."""
    model = plan.model
    changed = plan.changed_ids
    if changed:
        data_fields = [f for f in plan.rows[changed[0]] if f not in ("bms_id",)]
        objects = [
            model(
                source_id=source_id,
                synced_at=now,
                deleted_at=None,
                last_seen_run=run_id,
                first_seen_run=run_id,  # not in update_fields: kept when the row exists
                **plan.rows[bms_id],
            )
            for bms_id in changed
        ]
        model.objects.bulk_create(
            objects,
            update_conflicts=True,
            unique_fields=["source", "bms_id"],
            update_fields=[*data_fields, "synced_at", "deleted_at", "last_seen_run"],
            batch_size=500,
        )
    if mark_seen and plan.unchanged_ids:
        model.objects.filter(source_id=source_id, bms_id__in=plan.unchanged_ids).update(last_seen_run=run_id)
    return plan.counts
