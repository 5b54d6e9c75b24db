"""Issue 14 items 11 and 17 on the Integrations page: Billing staff are told why the card has
no menu; the Delete dialog's button says Delete; Sync Now leaves no "sync started" message
behind (the card shows the run while it is active)."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

VIEW_ONLY = "only a Master Admin can set them up, change or delete them"


def test_billing_staff_are_told_only_a_master_admin_changes_integrations(billing_client, bms_integration):
    html = billing_client.get(reverse("integrations:list")).content.decode()
    assert VIEW_ONLY in html
    assert 'data-testid="card-locked"' in html and "Only a Master Admin can change integrations" in html
    assert "Kaseya BMS menu" not in html


def test_a_master_admin_has_the_menu_and_no_view_only_note(admin_client, bms_integration):
    html = admin_client.get(reverse("integrations:list")).content.decode()
    assert VIEW_ONLY not in html and 'data-testid="card-locked"' not in html
    assert "Kaseya BMS menu" in html


def test_the_delete_dialog_button_says_delete(admin_client, bms_integration):
    html = admin_client.get(reverse("integrations:list")).content.decode()
    assert '<button type="submit" class="btn btn-danger">Delete</button>' in html
    assert ">Confirm<" not in html


def test_sync_now_leaves_no_message_the_card_shows_the_run(admin_client, bms_integration):
    response = admin_client.post(reverse("integrations:sync", args=["kaseya-bms"]), follow=True)
    html = response.content.decode()
    assert "sync started" not in html
    assert "Sync queued" in html  # the card, while the run is active
