"""The BMS tenant's currency, culture and date format (CurrencyCode, CultureCode, DateFormat
of /v2/security/userinfo): read by Test Connection, kept on the tenant's data source, given
to the organizations and invoices the sync stores, and used by every page."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Invoice
from integrations.locale import tenant_locale
from integrations.models import DataSource, SyncRun
from integrations.services import integration_test_connection
from integrations.sync.service import sync_run_execute
from organizations.models import Organization
from providers.kaseya_bms import mapping, sync_plan
from providers.kaseya_bms.types import UserInfo

pytestmark = pytest.mark.django_db


def _user_info(**fields) -> UserInfo:
    return UserInfo.from_api({"UserId": 5, "TenantId": 9, **fields})


@pytest.mark.parametrize(
    "fields,expected",
    [
        (
            {"CurrencyCode": "eur", "CultureCode": "de-DE", "DateFormat": "dd.MM.yyyy"},
            ("EUR", "de-DE", "dd.MM.yyyy"),
        ),
        ({"CurrencyCode": "JPY", "CultureCode": "ja_JP", "DateFormat": None}, ("JPY", "ja-JP", "")),
        # What is not a code is left out, never stored to break a page later.
        ({"CurrencyCode": "Euros!", "CultureCode": "<b>", "DateFormat": "d" * 41}, None),
        ({}, None),
    ],
)
def test_userinfo_maps_to_the_tenants_locale(fields, expected):
    locale = mapping.tenant_locale(_user_info(**fields))
    assert (locale and (locale.currency, locale.culture, locale.date_format)) == expected


@pytest.mark.parametrize("name,code", [("USD", "USD"), ("eur", "EUR"), ("US Dollar", "USD"), ("Euro", "EUR"), ("", "")])
def test_an_accounts_currency_name_maps_to_its_code(name, code):
    assert mapping.currency_code(name) == code


def test_test_connection_stores_the_locale_and_the_sync_gives_it_to_organizations_and_invoices(
    bms_integration, bms_sandbox, admin_user, client
):
    bms_sandbox.control.set_locale(currency_code="EUR", culture_code="de-DE", date_format="dd.MM.yyyy")
    result = integration_test_connection(integration=bms_integration, actor=admin_user)
    assert result.passed, result.summary
    source = DataSource.objects.get(integration=bms_integration)
    assert (source.currency_code, source.culture_code, source.date_format) == ("EUR", "de-DE", "dd.MM.yyyy")
    assert tenant_locale().key == "de-DE|EUR|dd.MM.yyyy"

    run = SyncRun.objects.get(source=source)  # the initial sync the first passed test starts
    while (outcome := sync_run_execute(run.pk)).resume_in is not None:
        pass
    run.refresh_from_db()
    assert run.status == "succeeded", (outcome, run.error)
    assert set(Organization.objects.values_list("currency", flat=True)) == {"EUR"}
    assert set(Invoice.objects.values_list("currency", flat=True)) == {"EUR"}

    client.force_login(admin_user)
    invoice = Invoice.objects.filter(total__gt=1000).first()
    page = client.get(reverse("billing:invoice", args=[invoice.pk])).content.decode()
    assert re.search(r"\d\.\d{3},\d\d\u00a0€", page), "amounts as de-DE writes euros"
    assert f"{invoice.due_date:%d.%m.%Y}" in page


def test_an_invoice_is_in_its_organizations_currency_else_the_tenants(db):
    source = DataSource.objects.create(
        provider_key="kaseya-bms", tenant_key="tenant:3", display_name="MSP", currency_code="EUR"
    )
    Organization.objects.create(source=source, bms_id=70, sync_hash="x", synced_at=timezone.now(), name="Swiss")
    Organization.objects.filter(bms_id=70).update(currency="CHF")
    rows = [{"bms_account_id": 70}, {"bms_account_id": 71}, {"bms_account_id": None}]
    sync_plan.link_invoices(source.pk, rows)
    assert [row["currency"] for row in rows] == ["CHF", "EUR", "EUR"]
    accounts = [{"currency": "USD"}, {"currency": ""}]
    sync_plan.currency_or_tenants(source.pk, accounts)
    assert [row["currency"] for row in accounts] == ["USD", "EUR"]


def test_a_changed_locale_marks_the_cached_client_lists_stale(
    bms_integration, bms_sandbox, admin_user, django_capture_on_commit_callbacks
):
    from portal import list_cache

    with django_capture_on_commit_callbacks(execute=True):
        assert integration_test_connection(integration=bms_integration, actor=admin_user).passed
    assert list_cache.rendered("t", 1, ("p",), lambda: "en-US") == "en-US"
    assert list_cache.rendered("t", 1, ("p",), lambda: "again") == "en-US"  # kept
    with django_capture_on_commit_callbacks(execute=True):
        assert integration_test_connection(integration=bms_integration, actor=admin_user).passed
    assert list_cache.rendered("t", 1, ("p",), lambda: "again") == "en-US"  # nothing changed: still kept
    bms_sandbox.control.set_locale(currency_code="JPY", culture_code="ja-JP", date_format="yyyy/MM/dd")
    with django_capture_on_commit_callbacks(execute=True):
        assert integration_test_connection(integration=bms_integration, actor=admin_user).passed
    assert tenant_locale().currency == "JPY"
    assert list_cache.rendered("t", 1, ("p",), lambda: "ja-JP") == "ja-JP"
