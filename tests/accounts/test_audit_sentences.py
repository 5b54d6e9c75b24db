"""The audit log in words: every action the portal records reads as a sentence, settings saves
say old → new (a secret only "changed"), and a save that changed nothing is not logged."""

import csv
import io
import re
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.audit import PREFIXED, SENTENCES, audit_sentence
from accounts.models import AuditEvent
from accounts.services import audit_record
from integrations.registry import get_provider
from integrations.services import integration_save_settings
from notifications.actions import notification_settings_save
from notifications.types import SPECS
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent
BMS = {
    "company_name": "Wrong Co",
    "username": "api@acme.example",
    "password": "first-Secret-1",
    "server_url": "https://bms.example",
}


@pytest.fixture
def anna():
    return UserFactory(full_name="Anna Admin", email="anna@msp.example")


def _save_bms(actor, **changes):
    integration_save_settings(provider=get_provider("kaseya-bms"), actor=actor, cleaned_data={**BMS, **changes})


def _saved_entries():
    return list(AuditEvent.objects.filter(action="integration.saved").order_by("id"))


def test_a_settings_change_says_old_and_new_and_a_secret_only_changed(anna):
    _save_bms(anna)
    _save_bms(anna, company_name="Acme MSP", password="second-Secret-2")
    added, changed = _saved_entries()
    assert audit_sentence(added) == (
        "Anna Admin added Kaseya BMS settings: Company Name set to “Wrong Co”; Username set to “api@acme.example”; "
        "Password changed; Server URL set to “https://bms.example”"
    )
    assert (
        audit_sentence(changed)
        == "Anna Admin changed Kaseya BMS settings: Company Name “Wrong Co” → “Acme MSP”; Password changed"
    )
    assert changed.details["changes"] == [
        {"field": "company_name", "label": "Company Name", "old": "Wrong Co", "new": "Acme MSP"},
        {"field": "password", "label": "Password", "secret": True},
    ]


def test_a_save_that_changed_nothing_is_not_logged(anna):
    _save_bms(anna)
    _save_bms(anna)  # the same password typed again
    _save_bms(anna, password="")  # the password left empty keeps the stored one
    assert len(_saved_entries()) == 1


def test_secrets_never_appear_in_the_log_page_or_export(anna, admin_client):
    _save_bms(anna)
    _save_bms(anna, password="second-Secret-2", username="api2@acme.example")
    page = admin_client.get(reverse("accounts:audit")).content.decode()
    export = b"".join(admin_client.get(reverse("accounts:audit-export")).streaming_content).decode()
    stored = repr(list(AuditEvent.objects.values_list("summary", "details")))
    for text in (page, export, stored):
        assert "first-Secret-1" not in text and "second-Secret-2" not in text
    assert "Password changed" in page and "“api@acme.example” → “api2@acme.example”" in page


def test_notification_settings_say_what_changed_and_skip_no_op_saves(anna):
    preferences = {kind: (True, True) for kind in SPECS}
    notification_settings_save(actor=anna, preferences=preferences, staff_recipients="", ticket_fields=None)
    assert not AuditEvent.objects.filter(action="notifications.settings_saved").exists()  # the defaults: no change

    preferences["payment_failed"] = (False, True)
    notification_settings_save(
        actor=anna, preferences=preferences, staff_recipients="ops@msp.example", ticket_fields=None
    )
    notification_settings_save(
        actor=anna, preferences=preferences, staff_recipients="ops@msp.example", ticket_fields=None
    )
    [event] = AuditEvent.objects.filter(action="notifications.settings_saved")
    assert audit_sentence(event) == (
        "Anna Admin changed the notification settings: Email for Payment Failed on → off; "
        "Staff recipients set to “ops@msp.example”"
    )


def _event(actor, action, target, summary, **details):
    return audit_record(actor=actor, action=action, target=target, summary=summary, **details)


# (action, target, summary, details, the sentence): each as the portal's services write them.
CASES = [
    (
        "integration.tested",
        "Kaseya BMS",
        "Test Connection failed",
        {"result": "failed", "failed_areas": ["API role"]},
        "Anna Admin ran Test Connection on Kaseya BMS: failed (API role)",
    ),
    (
        "integration.tested",
        "Kaseya BMS",
        "Test Connection passed",
        {"result": "passed", "failed_areas": []},
        "Anna Admin ran Test Connection on Kaseya BMS: passed",
    ),
    (
        "portal.access.revoked",
        "b@org.example",
        "Revoked the client-portal access of b@org.example (Acme); 2 sessions ended",
        {"organization_id": 1, "sessions_ended": 2},
        "Anna Admin revoked the client-portal access of b@org.example; 2 sessions ended",
    ),
    (
        "portal.access.restored",
        "b@org.example",
        "Invited b@org.example again after their client-portal access was revoked",
        {"organization_id": 1},
        "Anna Admin invited b@org.example again after their access was revoked",
    ),
    (
        "integration.deleted",
        "Kaseya BMS",
        "Deleted the Kaseya BMS integration and its credentials",
        {},
        "Anna Admin deleted the Kaseya BMS integration and its credentials",
    ),
    (
        "integration.saved",
        "Kaseya BMS",
        "Updated Kaseya BMS settings",
        {"changed_fields": ["company_name"]},
        "Anna Admin changed Kaseya BMS settings (company_name)",
    ),  # an entry from before old → new
    (
        "integration.saved",
        "Kaseya BMS",
        "Updated Kaseya BMS settings",
        {"changed_fields": []},
        "Anna Admin saved Kaseya BMS settings without changing anything",
    ),  # such entries are no longer written
    (
        "sync.requested",
        "Kaseya BMS",
        "Started a sync (Sync Now)",
        {},
        "Anna Admin started a sync (Sync Now) of Kaseya BMS",
    ),
    (
        "notifications.settings_saved",
        "Notifications",
        "Saved the notification settings",
        {"email_off": []},
        "Anna Admin saved the notification settings",
    ),
    (
        "notification.test",
        "New Invoice",
        "Sent a test New Invoice notification for Acme",
        {},
        "Anna Admin sent a test New Invoice notification for Acme",
    ),
    (
        "notification.fired",
        "New Invoice",
        "Sent a New Invoice notification for Acme",
        {},
        "Anna Admin sent a New Invoice notification for Acme",
    ),
    (
        "notification.retry",
        "New Invoice #3",
        "Retried the Email of New Invoice #3",
        {},
        "Anna Admin retried the Email of New Invoice #3",
    ),
    (
        "billing.image_sources.save",
        "Invoice Image Data",
        "Invoice image order: Kaseya BMS, Xero (disabled)",
        {"order": ["psa", "xero"]},
        "Anna Admin set the Invoice Image Data order: Kaseya BMS, Xero (disabled)",
    ),
    (
        "billing.comment_replied",
        "Invoice INV-1",
        "Replied to Acme on invoice INV-1",
        {"invoice_id": 1},
        "Anna Admin replied to Acme on invoice INV-1",
    ),
    (
        "payment_method.added",
        "Acme",
        "Added Visa ending 4242",
        {"method_id": 1},
        "Anna Admin added Visa ending 4242 for Acme",
    ),
    (
        "payment_method.default",
        "Acme",
        "Made Visa ending 4242 the default payment method",
        {"method_id": 1},
        "Anna Admin made Visa ending 4242 the default payment method of Acme",
    ),
    (
        "payment_method.removed",
        "Acme",
        "Removed Visa ending 4242",
        {"method_id": 1},
        "Anna Admin removed Visa ending 4242 of Acme",
    ),
    (
        "payment.refund_requested",
        "Payment 12",
        "Refund of 20.00 USD requested: Double charge",
        {"payment_id": 12, "refund_id": 3, "amount": "20.00", "currency": "USD", "reason": "Double charge"},
        "Anna Admin refunded 20.00 USD on payment #12: Double charge",
    ),
    (
        "payment.refund_requested",
        "Payment 12",
        "Refund of 20.00 USD requested: Double charge",
        {"payment_id": 12, "refund_id": 3, "amount": "20.00"},
        "Anna Admin refunded 20.00 on payment #12: Double charge",
    ),  # an entry from before the reason was kept
    (
        "payment.refund_sent",
        "Payment 12",
        "Refund 3: Succeeded",
        {"payment_id": 12, "refund_id": 3},
        "Refund #3 on payment #12 went to the processor: Succeeded",
    ),
    (
        "payment.posting_retried",
        "payment:12",
        "Retried posting CB-12 (generation 2)",
        {},
        "Anna Admin retried posting CB-12 (generation 2)",
    ),
    (
        "payment.posting_dismissed",
        "payment:12",
        "Dismissed posting CB-12: recorded by hand",
        {},
        "Anna Admin dismissed posting CB-12: recorded by hand",
    ),
    (
        "autopay.approve",
        "Acme",
        "Autopay of invoice INV-1: approve",
        {"scheduled_charge_id": 1},
        "Anna Admin approved the autopay of invoice INV-1 for Acme",
    ),
    (
        "autopay.reschedule",
        "Acme",
        "Autopay of invoice INV-1: reschedule to 2026-12-20",
        {},
        "Anna Admin rescheduled the autopay of invoice INV-1 for Acme to 2026-12-20",
    ),
    (
        "autopay.rule_create",
        "Acme",
        "Autopay rule added: Visa ending 4242, on the due date",
        {"by_client": True},
        "Anna Admin (in the client portal) updated the autopay rules of Acme: "
        "rule added: Visa ending 4242, on the due date",
    ),
    (
        "accounts.user.created",
        "b@msp.example",
        "Created b@msp.example as Billing staff (manage.py create_staff_user)",
        {"role": "billing_staff"},
        "Anna Admin created b@msp.example as Billing staff (manage.py create_staff_user)",
    ),
    (
        "accounts.user.role_changed",
        "b@msp.example",
        "b@msp.example: Billing staff → Master Admin",
        {"before": "billing_staff", "after": "master_admin"},
        "Anna Admin changed the role of b@msp.example: Billing staff → Master Admin",
    ),
    (
        "accounts.user.deactivated",
        "b@msp.example",
        "Deactivated b@msp.example; 2 sessions ended",
        {},
        "Anna Admin deactivated b@msp.example; 2 sessions ended",
    ),
    (
        "accounts.user.reactivated",
        "b@msp.example",
        "Reactivated b@msp.example",
        {},
        "Anna Admin reactivated b@msp.example",
    ),
    (
        "accounts.staff_invitation.queued",
        "b@msp.example",
        "Invited b@msp.example as Billing staff",
        {},
        "Anna Admin invited b@msp.example as Billing staff",
    ),
    (
        "accounts.staff_invitation.sent",
        "b@msp.example",
        "Staff invitation e-mailed to b@msp.example",
        {},
        "The staff invitation to b@msp.example was e-mailed (invited by Anna Admin)",
    ),
    (
        "accounts.staff_invitation.failed",
        "b@msp.example",
        "Could not e-mail",
        {"reason": "Connection refused"},
        "The staff invitation to b@msp.example could not be e-mailed: Connection refused",
    ),
    (
        "accounts.staff_invitation.accepted",
        "anna@msp.example",
        "anna@msp.example joined",
        {},
        "Anna Admin accepted the staff invitation and joined",
    ),
    (
        "accounts.signin",
        "anna@msp.example",
        "anna@msp.example signed in",
        {"address": "203.0.113.9"},
        "Anna Admin signed in from 203.0.113.9",
    ),
    (
        "portal.invitation.sent",
        "dana@globex.example",
        "Invited dana@globex.example (Globex) to the client portal",
        {"resent": True},
        "Anna Admin invited dana@globex.example (Globex) to the client portal again",
    ),
    (
        "portal.invitation.failed",
        "dana@globex.example",
        "Could not e-mail",
        {"reason": "Mailbox full"},
        "The client-portal invitation to dana@globex.example could not be e-mailed: Mailbox full",
    ),
    (
        "portal.invitation.accepted",
        "anna@msp.example",
        "accepted",
        {},
        "Anna Admin accepted the client-portal invitation",
    ),
    (
        "portal.access_request.invited",
        "pat@new.example",
        "Portal access request from pat@new.example: Invited",
        {},
        "Anna Admin answered the portal access request from pat@new.example: Invited",
    ),
    (
        "xero.connected",
        "Xero",
        "Connected Xero (Demo Company)",
        {"organisations": 1},
        "Anna Admin connected Xero (Demo Company)",
    ),
    (
        "xero.organisation_chosen",
        "Xero",
        "Chose the Xero organisation Demo Company",
        {},
        "Anna Admin chose the Xero organisation Demo Company",
    ),
    (
        "xero.contact_linked",
        "Acme Pty",
        "Linked the Xero contact Acme Pty to the organization Acme",
        {},
        "Anna Admin linked the Xero contact Acme Pty to the organization Acme",
    ),
    (
        "xero.contact_unlinked",
        "Acme Pty",
        "Removed the link of the Xero contact Acme Pty to Acme",
        {},
        "Anna Admin removed the link of the Xero contact Acme Pty to Acme",
    ),
]

# Entries written without anyone signed in.
SYSTEM_CASES = [
    (
        "accounts.signin.failed",
        "x@msp.example",
        "Failed sign-in as x@msp.example",
        {"address": "203.0.113.9", "reason": "wrong password"},
        "Failed sign-in as x@msp.example from 203.0.113.9: wrong password",
    ),
    (
        "accounts.signin.lockout",
        "x@msp.example",
        "Sign-in locked for 15 minutes: repeated failures",
        {"address": "203.0.113.9"},
        "Sign-in as x@msp.example from 203.0.113.9 locked for 15 minutes: repeated failures",
    ),
    (
        "accounts.password_reset.requested",
        "x@msp.example",
        "Password reset requested for x@msp.example",
        {"address": "203.0.113.9"},
        "Password reset requested for x@msp.example from 203.0.113.9",
    ),
    (
        "accounts.password_reset.limited",
        "x@msp.example",
        "refused",
        {"address": "203.0.113.9"},
        "Password reset for x@msp.example from 203.0.113.9 refused: too many requests",
    ),
    (
        "client.access_revoked",
        "dana@globex.example",
        "Client portal access revoked: the BMS contact or organization is gone or inactive",
        {},
        "Client portal access of dana@globex.example was revoked: the BMS contact or organization is gone or inactive",
    ),
    (
        "sync.unknown_action",
        "Kaseya BMS",
        "Something new happened",
        {},
        "The system: Something new happened",
    ),  # the fallback
]


@pytest.mark.parametrize("action,target,summary,details,sentence", CASES, ids=[c[0] for c in CASES])
def test_each_action_reads_as_a_sentence(anna, action, target, summary, details, sentence):
    assert audit_sentence(_event(anna, action, target, summary, **details)) == sentence


@pytest.mark.parametrize("action,target,summary,details,sentence", SYSTEM_CASES, ids=[c[0] for c in SYSTEM_CASES])
def test_each_system_action_reads_as_a_sentence(action, target, summary, details, sentence):
    assert audit_sentence(_event(None, action, target, summary, **details)) == sentence


def test_every_action_the_portal_records_has_its_renderer():
    """The actions written in the code (literal, or an f-string's fixed start) each have their own
    sentence, so none falls back to "<who>: <summary>"."""
    pattern = re.compile(r'action=f?"([a-z_]+\.[a-z_.]*)')
    written = set()
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if "audit_record(" in text:
            written.update(pattern.findall(text))
    assert len(written) > 30
    for action in written:
        assert action in SENTENCES or any(action.startswith(prefix) for prefix, _ in PREFIXED), (
            f"{action} has no sentence: add its renderer to accounts/audit.py SENTENCES"
        )


def test_the_page_shows_sentences_and_the_export_keeps_the_details(anna, admin_client):
    _save_bms(anna)
    _save_bms(anna, company_name="Acme MSP")
    page = admin_client.get(reverse("accounts:audit")).content.decode()
    assert "Anna Admin changed Kaseya BMS settings: Company Name “Wrong Co” → “Acme MSP”" in page
    assert "changed_fields" not in page and "{&#x27;" not in page  # no raw dictionaries
    text = b"".join(admin_client.get(reverse("accounts:audit-export")).streaming_content).decode()
    header, newest, *_ = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    row = dict(zip(header, newest, strict=True))
    assert row["Sentence"] == "Anna Admin changed Kaseya BMS settings: Company Name “Wrong Co” → “Acme MSP”"
    assert '"new": "Acme MSP"' in row["Details"] and '"old": "Wrong Co"' in row["Details"]
