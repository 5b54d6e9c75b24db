"""The portal's display filters: amounts, days and durations are shown one way everywhere."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template import engines

from integrations.templatetags.portal import day, money, seconds_human


@pytest.mark.parametrize(
    "value,shown",
    [
        (Decimal("1234.5"), "1,234.50"),
        (Decimal("-1234567.125"), "-1,234,567.13"),  # half up, as accountants round
        (Decimal("0.005"), "0.01"),
        (Decimal("-0.001"), "0.00"),  # never "-0.00"
        (0, "0.00"),
        (12.3, "12.30"),
        ("7", "7.00"),
        (None, ""),
        ("", ""),
    ],
)
def test_money(value, shown):
    assert money(value) == shown


def test_day_is_in_the_portals_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    late_utc = datetime(2026, 3, 2, 3, 0, tzinfo=ZoneInfo("UTC"))  # still March 1st in New York
    template = engines["django"].from_string(
        "{% load portal %}{{ when|day }}|{{ plain|day }}|{{ none|day|default:'-' }}"
    )
    assert template.render({"when": late_utc, "plain": date(2026, 1, 9), "none": None}) == "2026-03-01|2026-01-09|-"
    assert day(date(2026, 12, 31)) == "2026-12-31"


@pytest.mark.parametrize(
    "value,shown",
    [(12, "12 s"), (130, "2 min 10 s"), (120, "2 min"), (4000, "1 h 6 min"), (timedelta(seconds=5), "5 s"), (None, "")],
)
def test_seconds_human(value, shown):
    assert seconds_human(value) == shown
