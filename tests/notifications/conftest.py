"""Fixtures for notification tests: a synced sandbox tenant, ticket settings, a worker with
short retry timings and a loopback SMTP server."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import time
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from django.core.cache import cache

from connectbooster.celery import app
from integrations.base import Capability, Category
from notifications import selectors
from notifications.delivery import delivery_attempt
from notifications.models import Delivery, NotificationPreference, NotificationSettings
from notifications.types import SPECS
from organizations.models import Contact, Organization
from tests.conftest import CeleryWorker
from tests.integrations.sync.helpers import run_sync

# Sandbox lookups (bms_sandbox/constants.py): queue 3 (Billing), priority 3 (High), issue type 4
# (Billing) with sub-type 41, status 1 (New), ticket type 1, source 4 (Email).
TICKET_CONFIG = {
    "queue_id": 3,
    "priority_id": 3,
    "issue_type_id": 4,
    "sub_issue_type_id": 41,
    "status_id": 1,
    "ticket_type_id": 2,
    "source_id": 4,
}


@pytest.fixture
def sandbox_anomalies() -> dict:
    """The sandbox anomalies the tenant is synced with (none); a test parametrizes it to
    turn some on, e.g. ``@pytest.mark.parametrize("sandbox_anomalies", [{"newline_names": True}])``."""
    return {}


@pytest.fixture
def synced(bms_integration, bms_sandbox, sandbox_anomalies, settings):
    """BMS integrated and synced once: real organizations, contacts and invoices."""
    if sandbox_anomalies:
        bms_sandbox.control.set_anomalies(**sandbox_anomalies)
    run = run_sync(bms_integration)
    assert run.status == "succeeded", run.error
    bms_integration.refresh_from_db()
    return bms_integration


@pytest.fixture
def ticket_settings(synced):
    msp = Organization.objects.order_by("bms_id").first()
    config, _ = NotificationSettings.objects.get_or_create(pk=1)
    for name, value in {**TICKET_CONFIG, "internal_account_id": msp.bms_id}.items():
        setattr(config, name, value)
    config.staff_recipients = "ops@msp.example, finance@msp.example"
    config.save()
    return config


def set_preferences(email: bool, ticket: bool, kinds=None) -> None:
    for kind in kinds or SPECS:
        NotificationPreference.objects.update_or_create(
            kind=kind, defaults={"email_enabled": email, "ticket_enabled": ticket}
        )


def org_with(kind: str) -> Organization:
    """A synced organization whose billing contacts are of this kind:
    'recipient' (a contact receives invoices), 'poc' (only a point of contact), 'none'."""
    for org in Organization.objects.order_by("bms_id"):
        contacts = Contact.objects.filter(organization=org, deleted_at__isnull=True, is_active=True).exclude(email="")
        has_recipient = contacts.filter(receives_invoices=True).exists()
        has_poc = contacts.filter(is_poc=True).exists()
        if kind == "recipient" and has_recipient:
            return org
        if kind == "poc" and has_poc and not has_recipient:
            return org
        if kind == "none" and not has_poc and not has_recipient:
            return org
    raise AssertionError(f"The sandbox has no organization with billing contacts of kind {kind!r}")


# The sandbox's multi-address e-mail fields (bms_sandbox/contact_anomalies.py), by what follows
# the first address.
ADDRESS_FORMS = {"comma": ", accounts@", "semicolon": "; accounts@", "one invalid": "; not an address"}


def invoice_recipient_whose_email_has(tail: str) -> Contact:
    """A synced invoice recipient whose e-mail field holds ``tail`` (see ADDRESS_FORMS)."""
    contact = (
        Contact.objects.filter(
            receives_invoices=True, is_active=True, deleted_at__isnull=True, email__contains=tail.strip()
        )
        .select_related("organization")
        .order_by("organization__bms_id")
        .first()
    )
    assert contact is not None, f"no invoice recipient with {tail!r} in the synced sandbox tenant"
    return contact


def deliver_all(notification) -> dict[str, Delivery]:
    """Run every open delivery to its end, as the worker would (retries included); by channel."""
    for d in notification.deliveries.all():
        for _ in range(10):
            d.refresh_from_db()
            if d.status not in ("pending", "retrying", "sending"):
                break
            delivery_attempt(d.pk)
    return {d.channel: d for d in notification.deliveries.all()}


def tickets_with_key(control, key: str) -> list[dict]:
    """The sandbox's tickets whose details carry the delivery key's marker (signed or not)."""
    marker = re.compile(rf"\[portal-ref:{re.escape(key)}[]:]")
    return [t for t in control.records("tickets") if marker.search(t.get("details") or "")]


TICKET_SEARCH = "/v2/servicedesk/tickets/search"
# What BMS does to the search of the attempt that takes over after the crash, and the fault
# that must have fired: the first draw of each seed is below 0.5 and the second above it.
AFTER_THE_CRASH = {
    "bms-answers": ({}, None),
    "search-answer-lost": (
        {"drop_after_rate": 0.5, "fault_seed": 1, "paths": [TICKET_SEARCH]},
        f"drop_after POST {TICKET_SEARCH}",
    ),
    "search-503": ({"error_rate": 0.5, "fault_seed": 3, "paths": [TICKET_SEARCH]}, f"error POST {TICKET_SEARCH}"),
}


def assert_fault_fired(control, expected: str | None) -> None:
    fired = control.faults_fired()
    if expected is None:
        assert fired == {}, fired
    else:
        assert fired.get(expected, 0) >= 1, fired


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out waiting for {message}")


@dataclass
class CapturedMail:
    messages: list = field(default_factory=list)


class SmtpServer:
    """aiosmtpd on loopback; every message it accepts is parsed and kept."""

    def __init__(self):
        captured = self.captured = CapturedMail()

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
                captured.messages.append((list(envelope.rcpt_tos), msg))
                return "250 Message accepted"

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    @property
    def messages(self):
        return self.captured.messages


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    """In-process e-mail through the loopback SMTP server (Django's SMTP backend, as in production)."""
    settings.NOTIFICATIONS_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return smtp_server


@pytest.fixture
def notif_worker_env(worker_env, smtp_server):
    env = dict(worker_env)
    env.update(
        NOTIFICATIONS_RETRY_BACKOFF_SECONDS="0.2",
        NOTIFICATIONS_RETRY_BACKOFF_MAX_SECONDS="1",
        NOTIFICATIONS_LEASE_SECONDS="3",
        NOTIFICATIONS_MAX_ATTEMPTS="6",
        NOTIFICATIONS_EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}",
        CELERY_BROKER_VISIBILITY_TIMEOUT="2",
    )
    return env


def start_worker(env):
    worker = CeleryWorker(env)
    worker.start()
    return worker


@pytest.fixture
def notif_worker(notif_worker_env, transactional_db, settings):
    """A real worker (short retry timings, e-mail to the loopback SMTP server)."""
    settings.NOTIFICATIONS_LEASE_SECONDS = 3
    app.control.purge()
    worker = start_worker(notif_worker_env)
    yield worker
    worker.stop()


@pytest.fixture(autouse=True)
def _fresh_lookups():
    cache.clear()
    yield


def offer_accounting(monkeypatch, fake) -> None:
    """Make ``fake`` (or nothing, when None) the accounting package offering billing contacts."""
    real = selectors.installation_offering

    def offering(capability, *, category=None, connected=False):
        if capability == Capability.BILLING_CONTACTS and category == Category.ACCOUNTING:
            return fake
        return real(capability, category=category, connected=connected)

    monkeypatch.setattr(selectors, "installation_offering", offering)
