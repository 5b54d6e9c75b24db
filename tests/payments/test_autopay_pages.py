"""The autopay pages at request level: an organization's rules (staff: create, edit, reorder,
delete, lock, require approval; each change audited; a rule that cannot charge shows why, on the
organization page too), the payments calendar, autopay approvals (each decision once), the
client's Autopay page (a locked rule is read-only to them) and "AutoPay eligible" on the client's
invoices (evaluated for the whole list at once). Real rows, no Stripe call: the pages never
move money."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from billing.models import Invoice
from integrations.locale import tenant_locale
from organizations.models import Contract
from payments import autopay, services
from payments.models import (
    AutopayRule,
    AutopayTiming,
    MethodKind,
    PaymentMethod,
    ScheduledCharge,
    ScheduledChargeStatus,
)
from tests.factories import UserFactory
from tests.roles import CLIENT

from .conftest import make_invoice, make_organization

pytestmark = pytest.mark.django_db
_method_ids = count(1)


def saved_method(organization, *, last4: str = "4242", **fields) -> PaymentMethod:
    n = next(_method_ids)
    return PaymentMethod.objects.create(
        organization=organization,
        processor="stripe",
        processor_customer_id=f"cus_{organization.pk}",
        processor_method_id=f"pm_pages_{n}",
        kind=MethodKind.CARD,
        brand="visa",
        last4=last4,
        exp_month=12,
        exp_year=2034,
        **fields,
    )


def rule_for(organization, method, **fields) -> AutopayRule:
    fields.setdefault("timing", AutopayTiming.DAYS_BEFORE_DUE)
    fields.setdefault("days", 3)
    fields.setdefault("position", AutopayRule.objects.filter(organization=organization).count())
    return AutopayRule.objects.create(organization=organization, method=method, **fields)


def rule_post(method, **fields) -> dict:
    data = {"method": method.pk, "timing": AutopayTiming.DAYS_BEFORE_DUE, "days": 3, "enabled": "on"}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


@pytest.fixture
def method(organization) -> PaymentMethod:
    return saved_method(organization)


@pytest.fixture
def contact(client_user, organization):
    client_user.organization = organization
    client_user.save()
    return client_user


@pytest.fixture
def web(contact) -> Client:
    client = Client()
    client.force_login(contact)
    return client


# --- staff: Organizations > an organization > Autopay ----------------------------------------


def test_staff_add_edit_reorder_and_delete_rules_each_audited(admin_client, organization, method):
    rules_url = reverse("organization-autopay:rules", args=[organization.pk])
    page = admin_client.get(rules_url)
    assert page.status_code == 200 and "No autopay rules" in page.content.decode()

    answer = admin_client.post(rules_url, rule_post(method, requires_approval="on"))
    assert answer.status_code == 302
    answer = admin_client.post(
        rules_url, rule_post(method, timing=AutopayTiming.DAY_OF_MONTH, days=5, max_amount="500", locked="on")
    )
    assert answer.status_code == 302
    first, second = AutopayRule.objects.filter(organization=organization).order_by("position")
    assert (first.requires_approval, first.locked, first.days) == (True, False, 3)
    assert (second.timing, second.days, second.max_amount, second.locked) == ("day_of_month", 5, Decimal("500"), True)

    page = admin_client.get(rules_url).content.decode()
    assert "3 days before the due date" in page and "on day 5 of the month" in page and "At most $500.00" in page

    edit = reverse("organization-autopay:rule", args=[organization.pk, first.pk])
    assert admin_client.get(edit).status_code == 200
    assert admin_client.post(edit, rule_post(method, days=7, locked="on")).status_code == 302
    first.refresh_from_db()
    assert (first.days, first.locked, first.requires_approval) == (7, True, False)

    admin_client.post(reverse("organization-autopay:move", args=[organization.pk, first.pk]), {"direction": "down"})
    assert list(AutopayRule.objects.filter(organization=organization).order_by("position")) == [second, first]
    answer = admin_client.post(
        reverse("organization-autopay:move", args=[organization.pk, first.pk]), {"direction": "down"}, follow=True
    )
    assert "last already" in answer.content.decode()

    admin_client.post(reverse("organization-autopay:delete", args=[organization.pk, second.pk]))
    assert list(AutopayRule.objects.filter(organization=organization)) == [first]
    assert actions() == [
        "autopay.rule_create",
        "autopay.rule_create",
        "autopay.rule_update",
        "autopay.rule_move",
        "autopay.rule_delete",
    ]
    update = AuditEvent.objects.get(action="autopay.rule_update")
    assert update.details["changed"]["days"] == ["3", "7"] and update.target == organization.name


def test_billing_staff_manage_rules_too_and_clients_are_refused(billing_client, client_client, organization, method):
    rules_url = reverse("organization-autopay:rules", args=[organization.pk])
    assert billing_client.post(rules_url, rule_post(method)).status_code == 302
    assert client_client.get(rules_url).status_code == 403
    assert client_client.post(rules_url, rule_post(method)).status_code == 403
    assert AutopayRule.objects.count() == 1


def test_a_rule_form_offers_only_the_organizations_methods_and_contracts(admin_client, organization, method):
    other = make_organization("Other Ltd")
    foreign = saved_method(other, last4="1111")
    contract = Contract.objects.create(
        source=other.source, bms_id=9, sync_hash="x", synced_at=timezone.now(), organization=other, name="Theirs"
    )
    rules_url = reverse("organization-autopay:rules", args=[organization.pk])
    assert admin_client.post(rules_url, rule_post(foreign)).status_code == 400
    assert admin_client.post(rules_url, rule_post(method, contract=contract.pk)).status_code == 400
    answer = admin_client.post(rules_url, rule_post(method, timing=AutopayTiming.DAY_OF_MONTH, days=0))
    assert answer.status_code == 400 and "between 1 and 31" in answer.content.decode()
    assert AutopayRule.objects.count() == 0
    # Another organization's rule is not found under this one.
    theirs = rule_for(other, foreign)
    assert admin_client.get(reverse("organization-autopay:rule", args=[organization.pk, theirs.pk])).status_code == 404


def test_rules_that_cannot_charge_show_why_on_the_organization_page(admin_client, organization, method):
    expired = saved_method(organization, last4="0005")
    expired.exp_year, expired.exp_month = 2020, 1
    expired.save()
    ended = Contract.objects.create(
        source=organization.source,
        bms_id=7,
        sync_hash="x",
        synced_at=timezone.now(),
        organization=organization,
        name="Managed services",
        end_date=timezone.make_aware(datetime(2024, 5, 31)),
    )
    rule_for(organization, method)
    rule_for(organization, expired)
    rule_for(organization, method, contract=ended)
    removed = saved_method(organization, last4="0077")
    rule_for(organization, removed)
    PaymentMethod.objects.filter(pk=removed.pk).update(removed_at=timezone.now())

    page = admin_client.get(reverse("organizations:detail", args=[organization.pk])).content.decode()
    assert 'data-testid="organization-autopay"' in page
    assert "Rule 2 does not charge: Its payment method (Visa ···· 0005) has expired." in page
    assert "Rule 3 does not charge: Its contract Managed services ended on 2024-05-31." in page
    assert "Rule 4 does not charge: Its payment method (Visa ···· 0077) was removed." in page
    assert "Rule 1 does not" not in page
    assert reverse("organization-autopay:rules", args=[organization.pk]) in page
    rules_page = admin_client.get(reverse("organization-autopay:rules", args=[organization.pk])).content.decode()
    assert rules_page.count('data-testid="rule-error"') == 3


# --- Payments calendar -----------------------------------------------------------------------


def scheduled(organization, invoice, rule, *, on: date, status=ScheduledChargeStatus.SCHEDULED) -> ScheduledCharge:
    return ScheduledCharge.objects.create(
        rule=rule, organization=organization, invoice=invoice, slot=on, charge_on=on, status=status
    )


def test_the_calendar_shows_charges_by_day_with_approval_state(billing_client, organization, method):
    today = timezone.localdate()
    rule = rule_for(organization, method, requires_approval=True)
    waiting = make_invoice(organization, "25.00", number="INV-WAIT")
    scheduled(organization, waiting, rule, on=today, status=ScheduledChargeStatus.AWAITING_APPROVAL)
    foreseen = make_invoice(organization, "40.00", number="INV-SOON")  # due in 30 days: slot in 27

    page = billing_client.get(reverse("payments:calendar")).content.decode()
    assert today.strftime("%Y-%m-%d") in page and "INV-WAIT" in page and "Acme Ltd" in page
    assert "25.00" in page and 'data-testid="approval-pending"' in page
    slot = foreseen.due_date.date() - timedelta(days=3)
    month = billing_client.get(reverse("payments:calendar"), {"month": f"{slot:%Y-%m}"}).content.decode()
    assert f'data-day="{slot:%Y-%m-%d}"' in month and "INV-SOON" in month and "Foreseen" in month
    assert "3 days before the due date" in month

    other = make_organization("Other Ltd")
    only_other = billing_client.get(reverse("payments:calendar"), {"organization": other.pk}).content.decode()
    assert "INV-WAIT" not in only_other


def test_the_calendar_reads_in_a_fixed_number_of_queries(admin_client, organization, method):
    rule = rule_for(organization, method)
    today = timezone.localdate()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(reverse("payments:calendar")).status_code == 200
        return len(captured)

    scheduled(organization, make_invoice(organization, "1.00"), rule, on=today)
    make_invoice(organization, "2.00", number="INV-FORESEEN")  # slot in 27 days: foreseen
    tenant_locale()  # read once a minute per process, not per request
    few = queries()
    for _ in range(5):
        scheduled(organization, make_invoice(organization, "1.00"), rule, on=today)
        make_invoice(organization, "2.00")
    assert queries() == few


# --- Autopay approvals -----------------------------------------------------------------------


def test_approve_skip_and_reschedule_each_once(admin_client, organization, method):
    rule = rule_for(organization, method, requires_approval=True)
    today = timezone.localdate()
    first, second, third = (
        scheduled(organization, make_invoice(organization, amount), rule, on=today, status="awaiting_approval")
        for amount in ("5.00", "6.00", "7.00")
    )
    page = admin_client.get(reverse("payments:approvals")).content.decode()
    assert all(f'data-charge="{c.pk}"' in page for c in (first, second, third))

    def decide(charge, **data):
        return admin_client.post(reverse("payments:approval-decide", args=[charge.pk]), data, follow=True)

    assert "approved" in decide(first, decision="approve").content.decode()
    again = decide(first, decision="approve").content.decode()
    assert "This charge is approved already." in again
    assert decide(first, decision="skip").status_code == 200  # refused: it is approved
    decide(second, decision="skip")
    later = today + timedelta(days=4)
    decide(third, decision="reschedule", charge_on=later.isoformat())
    assert "already" in decide(third, decision="reschedule", charge_on=later.isoformat()).content.decode()
    past = decide(third, decision="reschedule", charge_on=(today - timedelta(days=1)).isoformat())
    assert "today or a later day" in past.content.decode()
    assert "Choose the day" in decide(third, decision="reschedule").content.decode()

    for charge in (first, second, third):
        charge.refresh_from_db()
    assert (first.status, second.status, third.status) == ("approved", "skipped", "awaiting_approval")
    assert third.charge_on == later and first.decided_by.email == "admin@example.com"
    assert actions() == ["autopay.approve", "autopay.skip", "autopay.reschedule"]
    page = admin_client.get(reverse("payments:approvals")).content.decode()
    assert f'data-charge="{first.pk}"' not in page and f'data-charge="{third.pk}"' in page


def test_two_decisions_at_once_make_one(admin_user, organization, method):
    """The decision is a conditional update: a stale copy of the row (the second click's) is
    refused, not applied over the first."""
    rule = rule_for(organization, method, requires_approval=True)
    charge = scheduled(
        organization, make_invoice(organization, "5.00"), rule, on=timezone.localdate(), status="awaiting_approval"
    )
    stale = ScheduledCharge.objects.get(pk=charge.pk)
    autopay.scheduled_charge_decide(charge=charge, actor=admin_user, decision="skip")
    with pytest.raises(services.PaymentRefused, match="skipped already"):
        autopay.scheduled_charge_decide(charge=stale, actor=admin_user, decision="approve")
    assert ScheduledCharge.objects.get(pk=charge.pk).status == "skipped"
    assert actions() == ["autopay.skip"]


def test_clients_cannot_reach_the_staff_autopay_pages(client_client, organization, method):
    rule = rule_for(organization, method, requires_approval=True)
    charge = scheduled(
        organization, make_invoice(organization, "5.00"), rule, on=timezone.localdate(), status="awaiting_approval"
    )
    assert client_client.get(reverse("payments:calendar")).status_code == 403
    assert client_client.get(reverse("payments:approvals")).status_code == 403
    decide = client_client.post(reverse("payments:approval-decide", args=[charge.pk]), {"decision": "approve"})
    assert decide.status_code == 403
    charge.refresh_from_db()
    assert charge.status == "awaiting_approval"


# --- the client's Autopay page ---------------------------------------------------------------


def test_a_client_adds_a_rule_on_a_saved_method_and_cannot_lock_it(web, organization, method):
    page = web.get(reverse("client-payments:autopay")).content.decode()
    assert "Turn on autopay" in page and 'name="locked"' not in page and 'name="requires_approval"' not in page
    answer = web.post(reverse("client-payments:autopay"), rule_post(method, locked="on", requires_approval="on"))
    assert answer.status_code == 302
    rule = AutopayRule.objects.get()
    assert (rule.organization, rule.method, rule.locked, rule.requires_approval) == (organization, method, False, False)
    assert actions() == ["autopay.rule_create"]
    assert AuditEvent.objects.get().details["by_client"] is True

    edit = reverse("client-payments:autopay-rule", args=[rule.pk])
    assert web.post(edit, rule_post(method, days=10, locked="on")).status_code == 302
    rule.refresh_from_db()
    assert (rule.days, rule.locked) == (10, False)


def test_a_client_without_a_saved_method_is_sent_to_payment_methods(web):
    page = web.get(reverse("client-payments:autopay")).content.decode()
    assert "Save a card first" in page and reverse("client-payments:methods") in page


def test_a_rule_locked_by_the_msp_is_read_only_to_the_client(web, organization, method):
    locked = rule_for(organization, method, locked=True)
    mine = rule_for(organization, method)
    page = web.get(reverse("client-payments:autopay")).content.decode()
    assert "Locked by your service provider" in page
    assert reverse("client-payments:autopay-rule", args=[locked.pk]) not in page
    assert reverse("client-payments:autopay-rule", args=[mine.pk]) in page

    detail = web.get(reverse("client-payments:autopay-rule", args=[locked.pk])).content.decode()
    assert 'data-testid="rule-locked"' in detail and '<form method="post" novalidate>' not in detail
    web.post(reverse("client-payments:autopay-rule", args=[locked.pk]), rule_post(method, days=9))
    web.post(reverse("client-payments:autopay-move", args=[locked.pk]), {"direction": "down"})
    web.post(reverse("client-payments:autopay-delete", args=[locked.pk]))
    answer = web.post(reverse("client-payments:autopay-move", args=[mine.pk]), {"direction": "up"}, follow=True)
    assert "keeps its place" in answer.content.decode()
    locked.refresh_from_db()
    assert (locked.days, locked.position) == (3, 0) and AutopayRule.objects.count() == 2
    assert actions() == []


def test_a_client_never_reaches_another_organizations_rule(web, organization):
    other = make_organization("Other Ltd")
    theirs = rule_for(other, saved_method(other))
    for name, method in (("autopay-rule", "get"), ("autopay-move", "post"), ("autopay-delete", "post")):
        assert getattr(web, method)(reverse(f"client-payments:{name}", args=[theirs.pk])).status_code == 404
    assert web.post(reverse("client-payments:autopay"), rule_post(theirs.method)).status_code == 400
    assert AutopayRule.objects.count() == 1
    assert "Other" not in web.get(reverse("client-payments:autopay")).content.decode()


def test_a_client_deletes_and_reorders_their_rules(web, organization, method):
    first, second = rule_for(organization, method), rule_for(organization, method, days=1)
    web.post(reverse("client-payments:autopay-move", args=[second.pk]), {"direction": "up"})
    assert list(AutopayRule.objects.order_by("position")) == [second, first]
    web.post(reverse("client-payments:autopay-delete", args=[first.pk]))
    assert list(AutopayRule.objects.all()) == [second]
    assert actions() == ["autopay.rule_move", "autopay.rule_delete"]


def test_deleting_a_rule_skips_the_charges_it_scheduled(admin_user, organization, method):
    rule = rule_for(organization, method)
    charge = scheduled(organization, make_invoice(organization, "5.00"), rule, on=timezone.localdate())
    autopay.rule_delete(rule=rule, actor=admin_user, by_client=False)
    charge.refresh_from_db()
    assert (charge.status, charge.note, charge.rule) == ("skipped", "Its rule was deleted.", None)


def test_saving_a_paused_rule_resumes_it(admin_user, organization, method):
    rule = rule_for(organization, method, paused_at=timezone.now(), pause_reason="Paused after 3 failed attempts")
    autopay.rule_update(rule=rule, actor=admin_user, by_client=False)
    rule.refresh_from_db()
    assert rule.paused_at is None and rule.pause_reason == ""


# --- "AutoPay eligible" on the client's invoices ---------------------------------------------


def test_invoices_say_whether_autopay_pays_them_and_by_which_rule(web, organization, method):
    rule_for(organization, method, max_amount=Decimal("100"))
    second = saved_method(organization, last4="5555")
    rule_for(organization, second, timing=AutopayTiming.DAYS_AFTER_DUE, days=2, max_amount=Decimal("1000"))
    small = make_invoice(organization, "80.00", number="INV-SMALL")
    large = make_invoice(organization, "800.00", number="INV-LARGE")
    make_invoice(organization, "5000.00", number="INV-HUGE")

    page = web.get(reverse("client:invoices")).content.decode()
    assert page.count('data-testid="autopay-eligible"') == 2
    assert "Rule 1: Visa ···· 4242" in page and "Rule 2: Visa ···· 5555" in page
    detail = web.get(reverse("client:invoice", args=[small.pk])).content.decode()
    assert 'data-testid="invoice-autopay"' in detail and "Rule 1 pays it with Visa ···· 4242" in detail
    slot = large.due_date.date() + timedelta(days=2)
    detail = web.get(reverse("client:invoice", args=[large.pk])).content.decode()
    assert f"Rule 2 pays it with Visa ···· 5555, 2 days after the due date ({slot:%Y-%m-%d})" in detail


def test_a_rule_that_cannot_charge_makes_nothing_eligible(web, organization, method):
    rule_for(organization, method)
    make_invoice(organization, "80.00")
    PaymentMethod.objects.filter(pk=method.pk).update(removed_at=timezone.now())
    assert 'data-testid="autopay-eligible"' not in web.get(reverse("client:invoices")).content.decode()


def test_eligibility_costs_no_query_per_invoice(web, organization, method):
    rule_for(organization, method)

    def queries() -> int:
        cache.clear()  # the list is rendered, not served from portal.list_cache
        with CaptureQueriesContext(connection) as captured:
            page = web.get(reverse("client:invoices")).content.decode()
        assert page.count('data-testid="autopay-eligible"') == Invoice.objects.count()
        return len(captured)

    make_invoice(organization, "10.00")
    tenant_locale()  # read once a minute per process, not per request
    few = queries()
    for _ in range(6):
        make_invoice(organization, "10.00")
    assert queries() == few


def test_a_rule_change_shows_on_the_cached_invoice_list(
    web, admin_client, organization, method, django_capture_on_commit_callbacks
):
    make_invoice(organization, "10.00")
    assert 'data-testid="autopay-eligible"' not in web.get(reverse("client:invoices")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("organization-autopay:rules", args=[organization.pk]), rule_post(method))
    assert 'data-testid="autopay-eligible"' in web.get(reverse("client:invoices")).content.decode()
    rule = AutopayRule.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        web.post(reverse("client-payments:autopay-delete", args=[rule.pk]))
    assert 'data-testid="autopay-eligible"' not in web.get(reverse("client:invoices")).content.decode()


# --- navigation ------------------------------------------------------------------------------


def test_navigation_links(admin_client, web):
    staff = admin_client.get(reverse("payments:list")).content.decode()
    assert reverse("payments:calendar") in staff and reverse("payments:approvals") in staff
    assert "Payments calendar" in staff and "Autopay approvals" in staff
    assert reverse("client-payments:autopay") in web.get(reverse("client:invoices")).content.decode()


def test_a_client_without_an_organization_sees_an_empty_autopay_page(db):
    web = Client()
    web.force_login(UserFactory(role=CLIENT))
    assert web.get(reverse("client-payments:autopay")).status_code == 200


def test_a_client_change_read_before_the_msp_locked_the_rule_is_refused(admin_user, contact, organization, method):
    """The lock is read under the row's lock, not from the copy the client's request loaded."""
    stale = rule_for(organization, method)
    autopay.rule_update(rule=AutopayRule.objects.get(pk=stale.pk), actor=admin_user, by_client=False, locked=True)
    for change in (
        lambda: autopay.rule_update(rule=stale, actor=contact, by_client=True, days=9),
        lambda: autopay.rule_move(rule=stale, actor=contact, by_client=True, direction="down"),
        lambda: autopay.rule_delete(rule=stale, actor=contact, by_client=True),
    ):
        with pytest.raises(services.PaymentRefused, match="locked"):
            change()
    stale.refresh_from_db()
    assert (stale.days, stale.locked) == (3, True)
