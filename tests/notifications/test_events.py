"""Other apps' events become notifications: sync events, the daily past-due task, a client's
comment and a portal access request, each exactly once."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core import mail
from django.utils import timezone

from billing.models import Invoice
from billing.signals import invoice_comment_posted
from integrations.models import SyncAlert, SyncAlertKind
from notifications.events import invoices_past_due_notify, sync_alert_notify
from notifications.models import Channel, Notification
from notifications.tasks import sweep_task
from notifications.types import NotificationKind
from portal.signals import portal_access_requested
from tests.integrations.sync.helpers import run_sync
from tests.notifications.conftest import deliver_all, org_with, set_preferences

pytestmark = pytest.mark.django_db


@pytest.fixture
def listening(settings):
    settings.NOTIFICATIONS_LISTEN_TO_SYNC = True


def test_new_invoice_only_for_invoices_new_since_an_earlier_sync(listening, bms_integration, bms_sandbox):
    set_preferences(email=True, ticket=False)
    first = run_sync(bms_integration)
    assert first.status == "succeeded"
    assert not Notification.objects.exists()  # the first sync pulls the history: no New Invoice
    account = bms_sandbox.control.records("accounts")[0]["id"]
    created = bms_sandbox.control.mutate(
        "invoice.create",
        accountId=account,
        statusId=2,
        lines=[{"name": "Managed services", "qty": 1, "unitPrice": 250}],
    )["record"]
    bms_sandbox.control.mutate(
        "invoice.create", accountId=account, statusId=1, lines=[{"name": "Draft", "qty": 1, "unitPrice": 1}]
    )
    second = run_sync(bms_integration)
    assert second.status == "succeeded"
    [notification] = Notification.objects.filter(kind=NotificationKind.NEW_INVOICE)
    assert notification.invoice.bms_id == created["id"] and notification.invoice.first_seen_run == second.pk
    third = run_sync(bms_integration)
    assert third.status == "succeeded"
    assert Notification.objects.count() == 1


def test_sync_alerts_become_notifications_exactly_once(listening, django_capture_on_commit_callbacks, synced):
    set_preferences(email=True, ticket=False)
    source = synced.data_source
    with django_capture_on_commit_callbacks(execute=True):
        failed = SyncAlert.objects.create(source=source, kind=SyncAlertKind.SYNC_FAILED, reason="BMS said no.")
    stale = SyncAlert.objects.create(source=source, kind=SyncAlertKind.SYNC_NOT_RUNNING, reason="No sync since ever.")
    failed.refresh_from_db()
    assert failed.handled_at is not None
    assert sweep_task()["alerts"] == 1  # picks up the one whose on_commit did not run
    assert sweep_task()["alerts"] == 0
    stale.refresh_from_db()
    assert stale.handled_at is not None
    kinds = sorted(Notification.objects.values_list("kind", flat=True))
    assert kinds == ["sync_failed", "sync_not_running"]
    n = Notification.objects.get(kind="sync_failed")
    assert n.organization is None and n.context["reason"] == "BMS said no."
    assert sync_alert_notify(alert_id=failed.pk) is None


def test_past_due_once_per_invoice_and_stage(synced):
    set_preferences(email=False, ticket=False)
    now = timezone.now()
    invoice = Invoice.objects.filter(organization__isnull=False).first()
    Invoice.objects.filter(pk=invoice.pk).update(balance_due=100, status="Sent", due_date=now - timedelta(days=2))
    others = Invoice.objects.exclude(pk=invoice.pk)
    others.update(due_date=now + timedelta(days=30))
    assert [n.invoice_id for n in invoices_past_due_notify(now=now)] == [invoice.pk]
    invoices_past_due_notify(now=now)
    invoices_past_due_notify(now=now + timedelta(days=3))
    assert Notification.objects.count() == 1
    invoices_past_due_notify(now=now + timedelta(days=14))  # 16 days: the 15-day stage
    assert sorted(Notification.objects.values_list("event_key", flat=True)) == [
        f"past_due:{invoice.pk}:1",
        f"past_due:{invoice.pk}:15",
    ]
    # Paid: no more.
    Invoice.objects.filter(pk=invoice.pk).update(balance_due=0)
    invoices_past_due_notify(now=now + timedelta(days=29))
    assert Notification.objects.count() == 2


def test_old_unpaid_invoices_do_not_all_fire_at_once(synced):
    now = timezone.now()
    Invoice.objects.update(balance_due=10, status="Sent", due_date=now - timedelta(days=400))
    assert invoices_past_due_notify(now=now) == []


def test_billing_signals_become_notifications(ticket_settings):
    set_preferences(email=True, ticket=False)
    org = org_with("recipient")
    invoice = org.invoices.order_by("-invoice_date").first()
    comment = SimpleNamespace(
        pk=7,
        invoice=invoice,
        author=SimpleNamespace(full_name="Pat Client", email="pat@client.example"),
        author_name="",
        body="Why is line 2 here?",
    )
    invoice_comment_posted.send(sender=None, comment=comment)
    request = SimpleNamespace(
        pk=3,
        email="new@client.example",
        full_name="New Person",
        organization=None,
        message="Please let me in",
        company="Client Co",
    )
    portal_access_requested.send(sender=None, access_request=request)
    commented = Notification.objects.get(kind=NotificationKind.CLIENT_COMMENTED)
    assert commented.organization == org and commented.invoice == invoice
    assert commented.deliveries.get(channel=Channel.EMAIL).recipients == ["ops@msp.example", "finance@msp.example"]
    deliver_all(commented)
    assert "Why is line 2 here?" in mail.outbox[0].body
    access = Notification.objects.get(kind=NotificationKind.PORTAL_ACCESS_REQUESTED)
    assert access.organization is None and access.context["requester_email"] == "new@client.example"
