"""Issue 14, items 2 and 15 in Chromium: staff revoke a signed-in contact's access through the
confirmation dialog (the contact is signed out at once) and give it back by inviting again;
a contact changes their password on Profile and stays signed in."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from tests.billing.factories import ContactFactory, InvoiceFactory, OrganizationFactory
from tests.browser.conftest import DESKTOP, sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "blue-harbor-lantern-42"


@pytest.fixture
def client_page(browser, live_server):
    """A second browser (its own cookies): the client contact's."""
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.mark.usefixtures("tasks_run_at_once")
def test_staff_revoke_a_signed_in_contact_through_the_dialog_and_invite_them_again(page, client_page, screenshot):
    org = OrganizationFactory(name="Globex Corporation")
    InvoiceFactory(organization=org)
    ContactFactory(organization=org, first_name="Dana", last_name="Scully", email="dana@globex.example", is_poc=True)
    ContactFactory(organization=org, first_name="Fox", last_name="Mulder", email="fox@globex.example")
    UserFactory(email="dana@globex.example", role=Role.CLIENT_CONTACT, organization=org, full_name="Dana Scully")
    UserFactory(email="books@msp.example", role=Role.BILLING_STAFF)
    sign_in(client_page, "dana@globex.example", DEFAULT_PASSWORD)
    expect(client_page.get_by_role("heading", name="Invoices")).to_be_visible()

    sign_in(page, "books@msp.example", DEFAULT_PASSWORD)
    page.goto("/accounts/client-access/")
    page.get_by_label("Organization").select_option(label="Globex Corporation")
    page.get_by_role("button", name="Filter").click()
    dana = page.get_by_test_id("contacts").locator("tr", has_text="dana@globex.example")
    fox = page.get_by_test_id("contacts").locator("tr", has_text="fox@globex.example")
    expect(dana.get_by_test_id("portal-status")).to_contain_text("Has access")
    expect(dana.get_by_test_id("portal-status")).to_contain_text("Last sign-in")
    expect(dana.get_by_role("button", name="Invite")).to_have_count(0)  # no Invite for someone with access
    expect(fox.get_by_test_id("portal-status")).to_contain_text("Not invited")
    screenshot("client-access-01-states")

    # Cancel changes nothing.
    dana.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(dana.get_by_test_id("portal-status")).to_contain_text("Has access")

    dana.get_by_role("button", name="Revoke").click()
    expect(dialog).to_contain_text("Revoke portal access of Dana Scully?")
    expect(dialog).to_contain_text("is signed out at once")
    screenshot("client-access-02-revoke-dialog")
    dialog.get_by_role("button", name="Revoke access").click()
    expect(page.get_by_text("Portal access of dana@globex.example revoked: 1 session ended")).to_be_visible()
    expect(dana.get_by_test_id("portal-status")).to_contain_text("Revoked")
    expect(dana.get_by_test_id("portal-status")).to_contain_text("by books@msp.example")
    screenshot("client-access-03-revoked")

    # The contact is signed out at once.
    client_page.goto("/portal/invoices/")
    expect(client_page).to_have_url(re.compile(r"/accounts/login/"))

    # Invite all leaves the revoked contact alone and says so; inviting Dana on her own gives access back.
    page.get_by_test_id("invite-all").click()
    expect(page.get_by_text("Skipped 1 access revoked")).to_be_visible()
    expect(dana.get_by_test_id("portal-status")).to_contain_text("Revoked")
    expect(fox.get_by_test_id("portal-status")).to_contain_text("Invited")
    dana.get_by_role("button", name="Invite again").click()
    expect(dana.get_by_test_id("portal-status")).to_contain_text("Invited")
    expect(dana.get_by_test_id("portal-status")).to_contain_text("link valid until")
    screenshot("client-access-04-invited-again")


def test_a_contact_changes_their_password_on_profile_and_stays_signed_in(page, screenshot):
    org = OrganizationFactory(name="Globex Corporation", billing_email="accounts@globex.example")
    UserFactory(email="dana@globex.example", role=Role.CLIENT_CONTACT, organization=org, full_name="Dana Scully")
    sign_in(page, "dana@globex.example", DEFAULT_PASSWORD)
    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_test_id("profile-organization")).to_have_text("Globex Corporation")
    expect(page.get_by_test_id("profile-billing-email")).to_have_text("accounts@globex.example")

    page.get_by_label("Current password").fill("not-my-password")
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("That is not your current password.")).to_be_visible()
    expect(page.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    screenshot("client-profile-01-wrong-current-password")

    page.get_by_label("Current password").fill(DEFAULT_PASSWORD)
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password was changed.")).to_be_visible()
    screenshot("client-profile-02-password-changed")
    page.get_by_role("link", name="Invoices").click()
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()  # still signed in

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "dana@globex.example", NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
