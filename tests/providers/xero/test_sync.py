"""The Xero sync on the generic engine: contacts and sales invoices, If-Modified-Since so that a
run with nothing changed costs one call per entity, Xero's AmountDue kept per invoice, contacts
matched after each run, a 429 storm waited out, a revoked grant failing the run once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from integrations.models import SyncAlert, SyncAlertKind, SyncRun, SyncTrigger
from integrations.services import integration_test_connection
from providers.xero.client import XeroIdentity
from providers.xero.models import ContactMatch, XeroConnection, XeroContact, XeroInvoice
from providers.xero.tokens import tokens_read
from tests.integrations.sync.helpers import run_sync

pytestmark = pytest.mark.django_db(transaction=True)

CONTACTS, INVOICES = "GET /Contacts", "GET /Invoices"


def _sync(integration, **kwargs) -> SyncRun:
    run = run_sync(integration, **kwargs)
    assert run.status == "succeeded", run.error
    return run


def test_a_full_sync_stores_contacts_and_sales_invoices(xero_connected, xero_sandbox, admin_client, xero_contract):
    run = _sync(xero_connected)
    assert run.requests == {CONTACTS: 1, INVOICES: 1}  # pages of 1,000
    assert len(xero_contract) == 2  # both requests are checked against Xero's OpenAPI document
    health = next(t for t in xero_sandbox.control.health()["tenants"] if t["main"])
    assert XeroContact.objects.count() == health["contacts"]
    assert run.counts["contacts"]["created"] == health["contacts"]
    invoices = XeroInvoice.objects.all()
    assert invoices.count() == run.counts["invoices"]["created"] > 100
    assert {i.status for i in invoices} <= {"AUTHORISED", "PAID", "VOIDED"}
    paid = invoices.filter(status="PAID").first()
    assert paid.amount_due == Decimal("0") and paid.amount_paid == paid.total
    # The card counts what was synced.
    page = admin_client.get(reverse("integrations:list")).content.decode()
    assert f"{health['contacts']}</strong> contacts" in page
    # Contacts are matched after the run (no BMS organizations here: none matches).
    assert set(XeroContact.objects.values_list("match", flat=True)) == {ContactMatch.NONE}


def test_a_run_with_nothing_changed_costs_one_call_per_entity(xero_connected, xero_sandbox):
    _sync(xero_connected)
    xero_sandbox.control.clear_requests()
    run = _sync(xero_connected)
    assert run.since is not None  # incremental: If-Modified-Since
    assert run.requests == {CONTACTS: 1, INVOICES: 1}
    assert xero_sandbox.control.requests()["total"] == 2
    assert run.counts["contacts"]["created"] == run.counts["invoices"]["created"] == 0


def test_a_payment_in_xero_reaches_the_stored_amount_due(xero_connected, xero_sandbox):
    _sync(xero_connected)
    # A recent one: the sandbox's If-Modified-Since only looks at invoices created in the last 47 days
    # (its generated invoices change within that long; its own edits of older ones it misses).
    invoice = XeroInvoice.objects.filter(status="AUTHORISED", amount_due__gt=20).order_by("-xero_updated_at").first()
    xero_sandbox.control.mutate("payment.create", invoice=invoice.bms_id, amount=20.0, reference="Check 1")
    run = _sync(xero_connected)
    invoice.refresh_from_db()
    assert run.counts["invoices"]["updated"] == 1
    assert invoice.amount_due == invoice.total - invoice.amount_paid
    assert invoice.amount_paid >= Decimal("20")


def test_a_429_storm_is_waited_out_without_failing_the_run(xero_connected, xero_sandbox):
    xero_sandbox.control.set_faults(rate_limit_rate=0.7, retry_after=1, rate_limit_problem="minute", fault_seed=11)
    run = _sync(xero_connected, trigger=SyncTrigger.SYNC_NOW)
    statuses = [r["status"] for r in xero_sandbox.control.requests()["recent"]]
    assert statuses.count(429) >= 2
    assert XeroContact.objects.exists() and XeroInvoice.objects.exists()
    assert run.error == ""


def test_passing_test_connection_starts_the_initial_sync(xero_integration, xero_sandbox, admin_user):
    from tests.providers.xero.conftest import grant_directly

    grant_directly(xero_integration, xero_sandbox, admin_user)
    assert integration_test_connection(integration=xero_integration, actor=admin_user).passed
    run = SyncRun.objects.get(source__integration=xero_integration)
    assert run.trigger == SyncTrigger.INITIAL and run.full_reconcile


def test_a_revoked_grant_fails_the_run_with_reconnect_and_one_alert(xero_connected, xero_sandbox):
    _sync(xero_connected)
    with XeroIdentity(xero_sandbox.client_id, xero_sandbox.client_secret, identity_url=xero_sandbox.url) as identity:
        identity.revoke(tokens_read(xero_connected.pk).refresh_token)
    xero_sandbox.control.expire_tokens()
    run = run_sync(xero_connected)
    assert run.status == "failed"
    assert "Reconnect Xero" in run.error
    assert XeroConnection.objects.get(integration=xero_connected).needs_reconnect
    assert SyncAlert.objects.filter(kind=SyncAlertKind.SYNC_FAILED).count() == 1
