"""Billing contact fallback: when BMS has no invoice recipient nor point of contact for an
organization, notification e-mails go to its Xero contact's e-mail, then to the contact persons
marked "include in e-mails"; the notification log names Xero as the source."""

from __future__ import annotations

import pytest
from django.core import mail

from notifications.firing import notification_fire
from notifications.models import Channel, DeliveryStatus
from notifications.selectors import billing_contacts_for
from notifications.types import NotificationKind
from organizations.models import Contact, Organization
from providers.xero.models import XeroContact
from tests.integrations.sync.helpers import run_sync
from tests.notifications.conftest import deliver_all, set_preferences

# Transactional: the sync engine reads pages in a thread of its own (its own connection).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def synced_bms(bms_integration):
    run = run_sync(bms_integration)
    assert run.status == "succeeded", run.error
    return bms_integration


def _sync_xero(installation) -> None:
    run = run_sync(installation.integration)
    assert run.status == "succeeded", run.error


def _without_bms_billing_contact() -> list[Organization]:
    orgs = []
    for org in Organization.objects.order_by("bms_id"):
        contacts = Contact.objects.filter(organization=org, deleted_at__isnull=True, is_active=True).exclude(email="")
        if not contacts.filter(receives_invoices=True).exists() and not contacts.filter(is_poc=True).exists():
            orgs.append(org)
    return orgs


def _xero_contact_of(installation, org: Organization):
    with installation.client() as client:
        return next(c for c in client.iter_contacts() if int(c.contact_id[24:], 16) == org.bms_id)


def _by_kind(installation, sandbox) -> dict[str, tuple[Organization, object]]:
    """Organizations without a BMS billing contact, by what Xero has: an e-mail, only contact
    persons to include, or nothing (one is made so when the seed has none)."""
    found, spare = {}, []
    for org in _without_bms_billing_contact():
        contact = _xero_contact_of(installation, org)
        if contact.email and not contact.contact_persons:
            kind = "email"
        elif contact.invoice_emails and not contact.email:
            kind = "persons"
        elif not contact.invoice_emails:
            kind = "nothing"
        else:
            continue
        if kind in found:
            spare.append((org, contact))
        found.setdefault(kind, (org, contact))
    if "nothing" not in found:
        org, contact = next((o, c) for o, c in spare if c.email and not c.contact_persons)
        sandbox.control.mutate("contact.update", contact=contact.contact_id, EmailAddress="")
        found["nothing"] = (org, _xero_contact_of(installation, org))
    assert set(found) == {"email", "persons", "nothing"}, found
    return found


def test_notification_e_mails_fall_back_to_xero(synced_bms, xero_installation, xero_sandbox):
    _sync_xero(xero_installation)
    set_preferences(email=True, ticket=False)
    for kind, (org, contact) in _by_kind(xero_installation, xero_sandbox).items():
        mail.outbox.clear()
        notification = notification_fire(
            NotificationKind.NEW_INVOICE, invoice=org.invoices.order_by("-invoice_date").first()
        )
        email = deliver_all(notification)[Channel.EMAIL]
        if kind == "nothing":
            assert email.status == DeliveryStatus.SKIPPED
            assert "Xero has no billing contact" in email.reason
            assert mail.outbox == []
            continue
        assert email.status == DeliveryStatus.SENT, email.errors
        assert email.recipient_source == "Xero billing contact"
        assert email.recipients == list(contact.invoice_emails)
        assert mail.outbox[0].to == email.recipients
        if kind == "persons":
            included = [p.email for p in contact.contact_persons if p.include_in_emails]
            left_out = [p.email for p in contact.contact_persons if not p.include_in_emails]
            assert email.recipients == included and not set(left_out) & set(email.recipients)


def test_the_address_is_read_fresh_from_xero(synced_bms, xero_installation, xero_sandbox):
    _sync_xero(xero_installation)
    org, contact = _by_kind(xero_installation, xero_sandbox)["email"]
    xero_sandbox.control.mutate("contact.update", contact=contact.contact_id, EmailAddress="new-ap@client.example")
    recipients = billing_contacts_for(org)
    assert recipients.emails[0] == "new-ap@client.example"
    assert XeroContact.objects.get(bms_id=contact.contact_id).email == "new-ap@client.example"


def test_before_any_contact_refresh_xero_is_searched(synced_bms, xero_installation, xero_sandbox):
    org, contact = _by_kind(xero_installation, xero_sandbox)["email"]
    assert not XeroContact.objects.exists()
    recipients = billing_contacts_for(org)
    assert (recipients.emails, recipients.source) == (list(contact.invoice_emails), "Xero billing contact")


def test_bms_contacts_come_first(synced_bms, xero_installation, xero_sandbox):
    org = Organization.objects.filter(contact__receives_invoices=True).exclude(contact__email="").first()
    xero_sandbox.control.clear_requests()
    assert billing_contacts_for(org).source == "BMS invoice recipient"
    assert xero_sandbox.control.requests()["total"] == 0  # Xero is not asked


def test_an_unreachable_xero_falls_back_to_the_stored_copy_or_says_so(synced_bms, xero_installation, xero_sandbox):
    org, contact = _by_kind(xero_installation, xero_sandbox)["email"]
    xero_sandbox.control.set_faults(error_rate=1.0, error_status=503)
    recipients = billing_contacts_for(org)  # never read: nothing to fall back on
    assert recipients.emails == []
    assert "Xero could not be asked" in recipients.reason and "503" in recipients.reason
    xero_sandbox.control.clear_faults()
    _sync_xero(xero_installation)
    xero_sandbox.control.set_faults(error_rate=1.0, error_status=503)
    recipients = billing_contacts_for(org)
    assert (recipients.emails, recipients.source) == (list(contact.invoice_emails), "Xero billing contact")
