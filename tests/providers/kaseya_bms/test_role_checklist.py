"""The settings page's "BMS security role for the API user" box asks only for what the
portal's BMS calls need, and Test Connection checks every line of it (issue 14, item 17)."""

import re

import pytest
from django.urls import reverse

from providers.kaseya_bms.forms import SECURITY_ROLE_CHECKLIST
from providers.kaseya_bms.installation import _AREAS

pytestmark = pytest.mark.django_db


def _asked(checklist: list[str]) -> set[str]:
    """("CRM", "View All"), ... for each permission a checklist line asks for."""
    asked = set()
    for line in checklist:
        module, _, rights = line.partition(": ")
        if rights:
            for right in re.findall(r"(View All|Modify All)", rights):
                asked.add(f"{module}: {right}")
    return asked


def test_test_connection_checks_every_permission_the_box_asks_for():
    checked = {re.sub(r" \(.*\)$", "", label) for _area, label, *_ in _AREAS}
    asked = _asked(SECURITY_ROLE_CHECKLIST)
    assert asked == checked, f"asked but not checked: {asked - checked}; checked but not asked: {checked - asked}"


def test_the_box_leaves_out_home_and_projects_and_says_why(admin_client):
    page = admin_client.get(reverse("integrations:settings", args=["kaseya-bms"])).content.decode()
    box = page[page.index('data-testid="role-checklist"') : page.index("</ul>", page.index("role-checklist"))]
    assert "CRM: View All" in box and "Has API Access" in box
    assert "Home" not in box and "Projects" not in box
    assert "the portal calls no Home or Projects endpoint" in page
