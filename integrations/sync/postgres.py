"""PostgreSQL tuning for bulk sync writes; on other databases these do nothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection, models


@contextmanager
def relaxed_commits() -> Iterator[None]:
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


def refresh_statistics(tables: Iterable[type[models.Model]]) -> None:
    """Refresh PostgreSQL's statistics after a bulk load: until autovacuum gets to it, the
    planner takes a fresh table for empty and scans it whole for every page's lookup."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
