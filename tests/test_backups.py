"""docs/backups.md names every table that exists only in the portal, so a new one cannot be
left out of what an administrator is told to keep. (The restore itself is tested for real by
scripts/production_smoke.py: pg_dump, pg_restore into a fresh database, the portal on it.)"""

import re
from pathlib import Path

import pytest
from django.apps import apps

from integrations.synced import SyncedRecord

DOC = (Path(__file__).resolve().parent.parent / "docs" / "backups.md").read_text()
PROJECT_APPS = {"accounts", "integrations", "organizations", "billing", "payments", "portal", "notifications"}


def _portal_only_tables():
    for model in apps.get_models():
        if model._meta.app_label in PROJECT_APPS and not issubclass(model, SyncedRecord):
            yield model._meta.db_table


@pytest.mark.parametrize("table", sorted(_portal_only_tables()))
def test_docs_backups_names_each_portal_only_table(table):
    app = table.split("_", 1)[0]
    assert f"`{table}`" in DOC or f"`{app}_*`" in DOC, f"say in docs/backups.md what {table} holds"


def test_the_documented_commands_are_those_the_smoke_test_runs():
    smoke = (Path(__file__).resolve().parent.parent / "scripts" / "production_smoke.py").read_text()
    smoke_words = re.sub(r'[\s",]', "", smoke)  # the script passes each argument as a string
    for command in ("pg_dump --format=custom", "pg_restore --no-owner --no-privileges --exit-on-error"):
        assert command in DOC
        assert command.replace(" ", "") in smoke_words
