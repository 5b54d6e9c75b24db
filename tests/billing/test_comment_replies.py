"""Two-way comments: staff reply on the staff invoice page, the client reads the thread on
theirs and is e-mailed about the reply (Invoice Comment Reply), once."""

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from billing.models import InvoiceComment
from notifications.events import comment_posted_notify
from notifications.models import Channel, DeliveryStatus, Notification, NotificationPreference
from notifications.rendering import notification_preview
from notifications.types import NotificationKind
from tests.billing.factories import ContactFactory, InvoiceFactory
from tests.notifications.conftest import deliver_all

pytestmark = pytest.mark.django_db


def _reply_url(invoice) -> str:
    return reverse("billing:invoice-comment", args=[invoice.pk])


def _thread(invoice) -> list[tuple[str, bool, str]]:
    return list(invoice.comments.order_by("created_at", "id").values_list("author_name", "is_staff_reply", "body"))


@pytest.fixture
def commented(client_of, django_capture_on_commit_callbacks):
    """An invoice a client contact (Pat) asked about through the portal."""
    invoice = InvoiceFactory(number="INV-7001")
    ContactFactory(organization=invoice.organization, email="billing@client.example", receives_invoices=True)
    pat, pat_web = client_of(invoice.organization, full_name="Pat Client", email="pat@client.example")
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            pat_web.post(reverse("client:invoice-comment", args=[invoice.pk]), {"body": "Why two backups?"}).status_code
            == 302
        )
    return invoice, pat, pat_web


@pytest.mark.parametrize("staff", ["admin_client", "billing_client"])
def test_staff_reply_joins_the_thread_the_client_reads(commented, staff, request, django_capture_on_commit_callbacks):
    invoice, _pat, pat_web = commented
    web = request.getfixturevalue(staff)
    staff_page = web.get(reverse("billing:invoice", args=[invoice.pk])).content.decode()
    assert "Reply to the client" in staff_page and f'action="{_reply_url(invoice)}"' in staff_page

    with django_capture_on_commit_callbacks(execute=True):
        response = web.post(_reply_url(invoice), {"body": "  One is the offsite copy.\nSee line 3.  "})
    assert response.status_code == 302 and response.url.endswith(f"/billing/invoices/{invoice.pk}/#comments")
    staff_name = (AuditEvent.objects.get(action="billing.comment_replied").actor).full_name
    assert _thread(invoice) == [
        ("Pat Client", False, "Why two backups?"),
        (staff_name, True, "One is the offsite copy.\nSee line 3."),
    ]

    client_page = pat_web.get(reverse("client:invoice", args=[invoice.pk])).content.decode()
    question, answer = (
        client_page.index("Why two backups?"),
        client_page.index("One is the offsite copy.<br>See line 3."),
    )
    assert question < answer  # in order, oldest first
    assert 'data-reply="staff"' in client_page and "billing team</span>" in client_page
    assert "Reply to the client" not in client_page  # the client's own form, not the staff one


@pytest.mark.parametrize(
    "body,error",
    [
        ("", "Write a reply before sending it."),
        ("   ", "Write a reply before sending it."),
        ("x" * 2001, "at most 2000"),
    ],
)
def test_an_empty_or_too_long_reply_is_refused_and_nothing_is_saved(commented, billing_client, body, error):
    invoice, *_ = commented
    response = billing_client.post(_reply_url(invoice), {"body": body})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert invoice.comments.filter(is_staff_reply=True).count() == 0
    assert not AuditEvent.objects.filter(action="billing.comment_replied").exists()
    assert not Notification.objects.filter(kind=NotificationKind.INVOICE_COMMENT_REPLY).exists()


def test_a_reply_on_a_deleted_organizations_invoice_is_refused(commented, billing_client):
    invoice, *_ = commented
    invoice.organization.deleted_at = timezone.now()
    invoice.organization.save(update_fields=["deleted_at"])
    page = billing_client.get(reverse("billing:invoice", args=[invoice.pk])).content.decode()
    closed = "was deleted in BMS and its portal is closed: a reply would reach nobody."
    assert closed in page and "Reply to the client" not in page  # said instead of the form
    response = billing_client.post(_reply_url(invoice), {"body": "Hello?"})
    assert response.status_code == 400 and closed in response.content.decode()
    assert invoice.comments.filter(is_staff_reply=True).count() == 0
    assert not Notification.objects.filter(kind=NotificationKind.INVOICE_COMMENT_REPLY).exists()


def test_a_reply_on_an_invoice_gone_from_bms_is_refused(commented, billing_client):
    invoice, *_ = commented
    invoice.deleted_at = timezone.now()
    invoice.save(update_fields=["deleted_at"])
    response = billing_client.post(_reply_url(invoice), {"body": "Hello?"})
    assert response.status_code == 400 and "is no longer in BMS" in response.content.decode()
    assert invoice.comments.filter(is_staff_reply=True).count() == 0


def test_a_reply_is_audited(commented, billing_client, billing_user, django_capture_on_commit_callbacks):
    invoice, *_ = commented
    with django_capture_on_commit_callbacks(execute=True):
        billing_client.post(_reply_url(invoice), {"body": "Credited."})
    reply = invoice.comments.get(is_staff_reply=True)
    event = AuditEvent.objects.get(action="billing.comment_replied")
    assert (event.actor, event.target) == (billing_user, "Invoice INV-7001")
    assert event.details == {
        "invoice_id": invoice.pk,
        "comment_id": reply.pk,
        "organization_id": invoice.organization_id,
    }


def test_the_client_is_emailed_about_a_reply_once(commented, billing_client, django_capture_on_commit_callbacks):
    invoice, _pat, _web = commented
    url = _reply_url(invoice)
    with django_capture_on_commit_callbacks(execute=True):
        first = billing_client.post(url, {"body": "It is the offsite copy."})
        second = billing_client.post(url, {"body": "It is the offsite copy."})  # a double click
    assert first.status_code == second.status_code == 302
    reply = invoice.comments.get(is_staff_reply=True)
    notification = Notification.objects.get(kind=NotificationKind.INVOICE_COMMENT_REPLY)
    assert (notification.invoice, notification.organization) == (invoice, invoice.organization)
    # A replayed signal finds the same notification.
    assert comment_posted_notify(comment=reply) == notification

    deliveries = deliver_all(notification)  # what the worker's task runs
    email = deliveries[Channel.EMAIL]
    assert email.status == DeliveryStatus.SENT
    assert email.recipients == ["pat@client.example"]  # who asked, not every billing contact
    assert email.recipient_source == "Client contacts who commented on the invoice"
    # No PSA connected here: the ticket is "Not sent" with the reason, not failed.
    assert deliveries[Channel.TICKET].status == DeliveryStatus.SKIPPED
    deliver_all(notification)  # the worker seeing it again sends nothing more
    replies = [m for m in mail.outbox if "Reply about invoice INV-7001" in m.subject]
    assert len(replies) == 1
    assert replies[0].to == ["pat@client.example"]
    assert "It is the offsite copy." in replies[0].body
    assert reverse("client:invoice", args=[invoice.pk]) + "#comments" in replies[0].body


def test_a_reply_nobody_asked_for_still_reaches_billing(commented, billing_client, django_capture_on_commit_callbacks):
    """The commenter lost access since: the reply goes to the billing contacts as other types."""
    invoice, pat, _web = commented
    pat.is_active = False
    pat.save(update_fields=["is_active"])
    with django_capture_on_commit_callbacks(execute=True):
        billing_client.post(_reply_url(invoice), {"body": "Credited."})
    notification = Notification.objects.get(kind=NotificationKind.INVOICE_COMMENT_REPLY)
    assert notification.deliveries.get(channel=Channel.EMAIL).recipients == ["billing@client.example"]


def test_the_reply_type_has_its_own_email_box(commented, billing_client, django_capture_on_commit_callbacks):
    invoice, *_ = commented
    NotificationPreference.objects.create(
        kind=NotificationKind.INVOICE_COMMENT_REPLY, email_enabled=False, ticket_enabled=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        billing_client.post(_reply_url(invoice), {"body": "Credited."})
    email = Notification.objects.get(kind=NotificationKind.INVOICE_COMMENT_REPLY).deliveries.get(channel=Channel.EMAIL)
    assert (email.status, email.reason) == (DeliveryStatus.SKIPPED, "Email is turned off for Invoice Comment Reply.")
    # The client's own comments still notify staff: the types are separate.
    assert Notification.objects.filter(kind=NotificationKind.CLIENT_COMMENTED).count() == 1


def test_a_client_never_sees_another_organizations_thread(commented, client_of, billing_client):
    invoice, *_ = commented
    billing_client.post(_reply_url(invoice), {"body": "Private answer for Pat."})
    other = InvoiceFactory()
    _stranger, stranger_web = client_of(other.organization)
    assert stranger_web.get(reverse("client:invoice", args=[invoice.pk])).status_code == 404
    own = stranger_web.get(reverse("client:invoice", args=[other.pk])).content.decode()
    assert "Private answer for Pat." not in own and "Why two backups?" not in own
    # Nor can a client post into it, or use the staff reply URL.
    assert stranger_web.post(reverse("client:invoice-comment", args=[invoice.pk]), {"body": "hi"}).status_code == 404
    assert stranger_web.post(_reply_url(invoice), {"body": "hi"}).status_code == 403
    assert InvoiceComment.objects.filter(body="hi").count() == 0


def test_the_reply_ticket_and_preview_read_as_a_reply(commented):
    invoice, *_ = commented
    preview = notification_preview(NotificationKind.INVOICE_COMMENT_REPLY, organization=invoice.organization)
    assert preview.subject == "[Test] Reply about invoice INV-7001 from Demo MSP"
    assert "Reply: This is a test reply." in preview.ticket_details
    assert "This is a test reply." in preview.text and "#comments" in preview.text
    assert preview.recipients == ["pat@client.example"]  # the contact who asked
