"""Customer matching: each Xero contact of the sandbox (seeded from the same tenant as the BMS
sandbox) is matched to the BMS organization synced from it: a stored link first, then the account
number, then the normalized name; Unmatched in Xero lists the rest and links them by hand (audited)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from integrations.models import DataSource
from organizations.models import Organization
from providers.xero import services
from providers.xero.matching import OrganizationIndex, normalize_name
from providers.xero.models import ContactMatch, XeroContact, XeroContactLink
from tests.integrations.sync.helpers import run_sync

# Transactional: the sync engine reads pages in a thread of its own (its own connection).
pytestmark = pytest.mark.django_db(transaction=True)

CONTACTS = "GET /api.xro/2.0/Contacts"


@pytest.fixture
def synced_bms(bms_integration):
    run = run_sync(bms_integration)
    assert run.status == "succeeded", run.error
    return bms_integration


def _bms_id(contact: XeroContact) -> int:
    """The sandbox's contact GUIDs end with the BMS account id (Xero-only contacts: beyond them)."""
    return int(contact.bms_id[24:], 16)


def _refresh(installation) -> int:
    """A Xero sync (contacts and invoices; the contacts matched after it): the contacts it read."""
    run = run_sync(installation.integration)
    assert run.status == "succeeded", run.error
    return sum(run.counts["contacts"][k] for k in ("created", "updated", "unchanged"))


@pytest.mark.parametrize(
    ("xero", "bms"),
    [
        ("ACME CORPORATION", "Acme Corporation"),
        ("Acme, LLC", "Acme LLC"),
        ("Acme Inc.", "Acme"),
        ("The Bright & Co", "Bright and"),
        ("Café Zürich GmbH", "Cafe Zurich"),
        ("  Northwind   Traders ", "northwind traders"),
    ],
)
def test_normalized_names(xero, bms):
    assert normalize_name(xero) == normalize_name(bms)


def test_different_names_stay_different():
    assert normalize_name("Acme Holdings") != normalize_name("Acme")
    assert normalize_name("Inc") == "inc"  # a name is never reduced to nothing


def test_ambiguous_keys_match_nothing(db):
    orgs = [Organization(pk=1, name="Acme", code="A1"), Organization(pk=2, name="ACME Inc.", code="A1")]
    index = OrganizationIndex(orgs)
    assert index.match(account_number="A1", name="Acme") == (None, ContactMatch.NONE)


def test_every_sandbox_contact_matches_its_bms_organization(synced_bms, xero_installation, xero_sandbox):
    xero_sandbox.control.clear_requests()
    read = _refresh(xero_installation)
    assert xero_sandbox.control.requests()["by_endpoint"][CONTACTS] == 1  # one page of up to 1,000
    contacts = list(XeroContact.objects.filter(source=xero_installation.source))
    assert read == len(contacts) > 25
    orgs = {org.bms_id: org for org in Organization.objects.all()}
    by_method = {ContactMatch.ACCOUNT_NUMBER: 0, ContactMatch.NAME: 0}
    unmatched = []
    for contact in contacts:
        org = orgs.get(_bms_id(contact))
        if org is None:
            unmatched.append(contact)
            continue
        assert contact.organization_id == org.pk, (contact.name, org.name)
        expected = ContactMatch.ACCOUNT_NUMBER if contact.account_number else ContactMatch.NAME
        assert contact.match == expected
        by_method[contact.match] += 1
    # Names differ for some (case, punctuation, legal form): the normalized name still matches them.
    assert any(c.name != c.organization.name for c in contacts if c.match == ContactMatch.NAME)
    assert by_method[ContactMatch.NAME] >= 3 and by_method[ContactMatch.ACCOUNT_NUMBER] >= 10
    assert {c.account_number[:1] for c in unmatched} == {"X"}  # only the Xero-only contacts
    assert all(c.match == ContactMatch.NONE and c.organization_id is None for c in unmatched)


def test_a_refresh_without_changes_costs_one_call_and_picks_up_a_change(synced_bms, xero_installation, xero_sandbox):
    _refresh(xero_installation)
    matched = XeroContact.objects.filter(match=ContactMatch.ACCOUNT_NUMBER).first()
    xero_sandbox.control.clear_requests()
    assert _refresh(xero_installation) <= 2  # only what changed since (with the overlap)
    assert xero_sandbox.control.requests()["by_endpoint"][CONTACTS] == 1
    # The contact's account number is removed and its name changed in Xero: it no longer matches.
    xero_sandbox.control.mutate(
        "contact.update", contact=matched.bms_id, AccountNumber="", Name="Somebody Else Entirely"
    )
    _refresh(xero_installation)
    matched.refresh_from_db()
    assert (matched.name, matched.organization_id, matched.match) == ("Somebody Else Entirely", None, "")


def test_a_stored_link_wins_over_the_account_number(synced_bms, xero_installation, admin_user):
    _refresh(xero_installation)
    contact = XeroContact.objects.filter(match=ContactMatch.ACCOUNT_NUMBER).first()
    other = Organization.objects.exclude(pk=contact.organization_id).first()
    services.xero_contact_link(actor=admin_user, contact=contact, organization=other)
    _refresh(xero_installation)
    services.xero_contacts_match(source_id=contact.source_id)
    contact.refresh_from_db()
    assert (contact.organization_id, contact.match) == (other.pk, ContactMatch.LINK)
    # Removing the link brings the automatic match back.
    services.xero_contact_unlink(actor=admin_user, contact=contact)
    contact.refresh_from_db()
    assert contact.match == ContactMatch.ACCOUNT_NUMBER and contact.organization_id != other.pk


def test_unmatched_in_xero_lists_the_rest_and_links_by_hand(synced_bms, xero_installation, billing_client):
    url = reverse("integrations:xero:unmatched")
    page = billing_client.get(url).content.decode()
    assert "No Xero contacts have been synced yet" in page
    _refresh(xero_installation)
    page = billing_client.get(url).content.decode()
    unmatched = list(XeroContact.objects.filter(match=ContactMatch.NONE).exclude(status="ARCHIVED"))
    assert len(unmatched) >= 2
    for contact in unmatched:
        assert contact.name in page
    matched = XeroContact.objects.filter(match=ContactMatch.ACCOUNT_NUMBER).first()
    assert f'id="contact-{matched.pk}"' not in page
    # Search on both sides.
    target, org = unmatched[0], Organization.objects.order_by("name").last()
    page = billing_client.get(url, {"q": target.name[:6], "org_q": org.name}).content.decode()
    assert f'id="contact-{target.pk}"' in page and f'id="contact-{unmatched[1].pk}"' not in page
    assert f'id="org-{org.pk}"' in page
    assert (
        f'id="org-{Organization.objects.exclude(pk=org.pk).exclude(name__icontains=org.name).first().pk}"' not in page
    )
    # Link by hand.
    response = billing_client.post(
        reverse("integrations:xero:link"), {"contact": target.pk, "organization": org.pk}, follow=True
    )
    assert f"Linked the Xero contact {target.name} to {org.name}" in response.content.decode()
    target.refresh_from_db()
    assert (target.organization_id, target.match) == (org.pk, ContactMatch.LINK)
    link = XeroContactLink.objects.get(contact_id=target.bms_id)
    assert link.linked_by.email == "billing@example.com"
    event = AuditEvent.objects.get(action="xero.contact_linked")
    assert event.actor_email == "billing@example.com" and event.details["organization_id"] == org.pk
    page = billing_client.get(url).content.decode()
    assert f'id="contact-{target.pk}"' not in page  # no longer unmatched
    assert "Remove link" in page
    # And unlinked again, audited.
    billing_client.post(reverse("integrations:xero:unlink", args=[target.pk]))
    assert AuditEvent.objects.filter(action="xero.contact_unlinked").exists()
    target.refresh_from_db()
    assert target.match == ContactMatch.NONE


def test_the_card_links_to_unmatched_in_xero_for_staff(synced_bms, xero_installation, billing_client, admin_client):
    _refresh(xero_installation)
    unmatched = XeroContact.objects.filter(match=ContactMatch.NONE).exclude(status="ARCHIVED").count()
    for web in (billing_client, admin_client):
        page = web.get(reverse("integrations:list")).content.decode()
        assert f"Unmatched in Xero ({unmatched})" in page


def test_client_contacts_cannot_see_or_link(xero_installation, client_client):
    assert client_client.get(reverse("integrations:xero:unmatched")).status_code == 403
    assert client_client.post(reverse("integrations:xero:link"), {"contact": 1, "organization": 1}).status_code == 403


def test_a_contact_of_another_tenant_cannot_be_linked(synced_bms, xero_installation, billing_client):
    other_source = DataSource.objects.create(provider_key="xero", tenant_key="tenant:another", display_name="Other")
    stranger = XeroContact.objects.create(
        source=other_source, bms_id="c-1", name="Stranger", sync_hash="x", synced_at=timezone.now()
    )
    org = Organization.objects.first()
    billing_client.post(reverse("integrations:xero:link"), {"contact": stranger.pk, "organization": org.pk})
    assert not XeroContactLink.objects.exists()
