"""The portal's display filters: amounts, days and durations are shown one way everywhere, as
the BMS tenant's culture writes them."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.template import engines

from core.formats import date_format, money_format
from integrations.locale import forget_tenant_locale, tenant_locale
from integrations.models import DataSource
from integrations.templatetags.portal import day, money, seconds_human

NBSP, NNBSP = "\u00a0", "\u202f"  # CLDR's spaces: before "€" in de-DE; between groups in fr-FR


@pytest.mark.parametrize(
    "culture,currency,value,shown",
    [
        ("en-US", "USD", Decimal("1234.5"), "$1,234.50"),
        ("en-US", "USD", Decimal("-1234567.125"), "-$1,234,567.13"),  # half up, as accountants round
        ("en-US", "USD", Decimal("0.005"), "$0.01"),
        ("en-US", "USD", Decimal("-0.001"), "$0.00"),  # never "-$0.00"
        ("en-US", "USD", 12.3, "$12.30"),
        ("en-US", "USD", "7", "$7.00"),
        ("en-US", "USD", None, ""),
        ("en-US", "USD", "", ""),
        ("de-DE", "EUR", Decimal("1234.5"), f"1.234,50{NBSP}€"),
        ("de-DE", "EUR", Decimal("-1234567.125"), f"-1.234.567,13{NBSP}€"),
        ("de-DE", "USD", Decimal("1234.5"), f"1.234,50{NBSP}$"),
        ("ja-JP", "JPY", Decimal("1234.5"), "￥1,235"),  # no decimals; half up
        ("ja-JP", "JPY", Decimal("-1234.4"), "-￥1,234"),
        ("ja-JP", "JPY", 0, "￥0"),
        ("en-GB", "GBP", Decimal("1234.5"), "£1,234.50"),
        ("en-GB", "USD", Decimal("1234.5"), "US$1,234.50"),
        ("fr-FR", "EUR", Decimal("1234.5"), f"1{NNBSP}234,50{NBSP}€"),
        ("fr-FR", "EUR", Decimal("-1234.5"), f"-1{NNBSP}234,50{NBSP}€"),
        ("en-IN", "INR", Decimal("1234567.5"), "₹12,34,567.50"),  # lakh grouping
        ("de-CH", "CHF", Decimal("1234.5"), f"CHF{NBSP}1'234.50"),
        ("xx-ZZ", "EUR", Decimal("1234.5"), "€1,234.50"),  # an unknown culture: en-US's conventions
    ],
)
def test_amounts_in_a_cultures_format(culture, currency, value, shown):
    assert money_format(culture, currency).format(value) == shown


@pytest.mark.parametrize(
    "culture,pattern,shown",
    [
        ("en-US", "MM/dd/yyyy", "03/05/2026"),
        ("en-GB", "dd/MM/yyyy", "05/03/2026"),
        ("de-DE", "dd.MM.yyyy", "05.03.2026"),
        ("en-US", "M/d/yy", "3/5/26"),
        ("en-US", "yyyy-MM-dd", "2026-03-05"),
        ("de-DE", "d. MMMM yyyy", "5. März 2026"),
        ("en-US", "ddd, MMM d, yyyy", "Thu, Mar 5, 2026"),
        ("fr-FR", "d 'de' MMM", "5 de mars"),  # quoted text is literal
        ("en-US", "{d}/{M}", "{5}/{3}"),  # braces are text, never format fields
        # No DateFormat: the culture's short date, with a four-digit year.
        ("de-DE", "", "05.03.2026"),
        ("en-US", "", "3/5/2026"),
        ("ja-JP", "", "2026/03/05"),
        ("en-GB", "", "05/03/2026"),
    ],
)
def test_dates_in_a_tenants_format(culture, pattern, shown):
    assert date_format(culture, pattern).format(date(2026, 3, 5)) == shown


def _tenant(**facts) -> DataSource:
    source = DataSource.objects.create(provider_key="kaseya-bms", tenant_key="tenant:7", display_name="MSP", **facts)
    forget_tenant_locale()
    return source


def test_before_any_tenant_is_known_amounts_are_in_portal_currency_and_days_iso(db, settings):
    settings.PORTAL_CURRENCY = "EUR"
    assert money(Decimal("1234.5")) == "€1,234.50"
    assert day(date(2026, 12, 31)) == "2026-12-31"


def test_the_filters_follow_the_bms_tenant(db):
    _tenant(currency_code="EUR", culture_code="de-DE", date_format="dd.MM.yyyy")
    template = engines["django"].from_string(
        "{% load portal %}{{ amount|money }}|{{ amount|money:'USD' }}|{{ amount|money:invoice }}|"
        "{{ amount|money:blank }}|{{ when|day }}|{{ none|money|default:'-' }}"
    )
    shown = template.render(
        {
            "amount": Decimal("-1234.5"),
            "invoice": SimpleNamespace(currency="JPY"),
            "blank": SimpleNamespace(currency=""),  # stored before currencies were: the tenant's
            "when": date(2026, 1, 9),
            "none": None,
        }
    )
    assert shown == f"-1.234,50{NBSP}€|-1.234,50{NBSP}$|-1.235{NBSP}¥|-1.234,50{NBSP}€|09.01.2026|-"


def test_a_removed_psa_still_gives_its_locale_and_another_providers_source_does_not(db, settings):
    DataSource.objects.create(provider_key="xero", tenant_key="tenant:x", display_name="Xero", currency_code="NZD")
    forget_tenant_locale()
    assert tenant_locale().currency == settings.PORTAL_CURRENCY  # Xero's is not the PSA tenant's
    _tenant(currency_code="JPY", culture_code="ja-JP")  # its integration deleted: records stay
    assert money(Decimal("1234.5")) == "￥1,235"


def test_day_is_in_the_portals_time_zone(db, settings):
    settings.TIME_ZONE = "America/New_York"
    late_utc = datetime(2026, 3, 2, 3, 0, tzinfo=ZoneInfo("UTC"))  # still March 1st in New York
    template = engines["django"].from_string(
        "{% load portal %}{{ when|day }}|{{ plain|day }}|{{ none|day|default:'-' }}"
    )
    assert template.render({"when": late_utc, "plain": date(2026, 1, 9), "none": None}) == "2026-03-01|2026-01-09|-"
    _tenant(currency_code="USD", culture_code="en-US", date_format="MM/dd/yyyy")
    assert template.render({"when": late_utc, "plain": date(2026, 1, 9), "none": None}) == "03/01/2026|01/09/2026|-"


@pytest.mark.parametrize(
    "value,shown",
    [(12, "12 s"), (130, "2 min 10 s"), (120, "2 min"), (4000, "1 h 6 min"), (timedelta(seconds=5), "5 s"), (None, "")],
)
def test_seconds_human(value, shown):
    assert seconds_human(value) == shown
