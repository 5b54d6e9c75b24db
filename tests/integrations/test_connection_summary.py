"""The card's Test Connection summary after a Save: "not tested since the settings changed",
never "failed" over the last test's green checks."""

import re

import pytest
from django.urls import reverse

from integrations.registry import get_provider
from integrations.services import integration_save_settings, integration_test_connection
from tests.conftest import sandbox_settings_for

CARD = reverse("integrations:card", args=["kaseya-bms"])


def _summary(admin_client) -> tuple[str, bool]:
    """The summary's text and whether its <details> is open."""
    html = admin_client.get(CARD).content.decode()
    details = re.search(r'<details class="small"\s*(open)?\s*>\s*<summary[^>]*>(.*?)</summary>', html, re.S)
    assert details, "the card shows the last Test Connection"
    return " ".join(details.group(2).split()), bool(details.group(1))


def _save(admin_user, **values):
    return integration_save_settings(provider=get_provider("kaseya-bms"), actor=admin_user, cleaned_data=values)


@pytest.fixture
def tested(bms_integration, admin_user):
    integration_test_connection(integration=bms_integration, actor=admin_user)
    bms_integration.refresh_from_db()
    assert bms_integration.last_test_passed is True
    return bms_integration


def test_a_passed_test_says_passed_and_stays_closed(admin_client, tested):
    text, is_open = _summary(admin_client)
    assert re.fullmatch(r"Test Connection, \d{4}-\d\d-\d\d \d\d:\d\d: passed", text)
    assert not is_open


def test_after_a_save_that_changes_settings_it_says_not_tested_not_failed(
    admin_client, admin_user, tested, bms_sandbox, settings
):
    _save(admin_user, **{**sandbox_settings_for(bms_sandbox, settings), "username": "someone.else@demo.local"})

    tested.refresh_from_db()
    assert tested.last_test_passed is None, "the last test no longer speaks for these settings"
    assert tested.last_test_checks, "its checks stay, for reference"
    text, is_open = _summary(admin_client)
    assert text.startswith("Test Connection: not tested since the settings changed (last test ")
    assert "failed" not in text
    assert not is_open


def test_a_save_that_changes_nothing_keeps_the_result(admin_client, admin_user, tested, bms_sandbox, settings):
    unchanged = {**sandbox_settings_for(bms_sandbox, settings), "password": ""}  # empty keeps the stored one

    _save(admin_user, **unchanged)

    text, _ = _summary(admin_client)
    assert text.endswith(": passed")


def test_a_failed_test_says_failed_and_opens_its_checks(admin_client, admin_user, bms_sandbox, settings, tested):
    bms_sandbox.control.add_user(
        username="limited@demo.local", password="limited-pass", rights={"Finance": {"view": True, "modify": False}}
    )
    limited = {
        **sandbox_settings_for(bms_sandbox, settings),
        "username": "limited@demo.local",
        "password": "limited-pass",
    }
    integration_test_connection(integration=_save(admin_user, **limited), actor=admin_user)

    text, is_open = _summary(admin_client)
    assert text.endswith(": failed")
    assert is_open
