"""Micro-benchmark of the `money` and `day` filters: what one cell of a long list costs.

    DJANGO_SETTINGS_MODULE=connectbooster.test_settings .venv/bin/python -m benchmarks.formats

Prints microseconds per call (best of 5 runs) for the filters as pages call them (tenant's
facts cached in the process), the filter as it was before cultures (en-US only, no symbol)
as the floor, and Babel's own ``format_currency`` (what a lookup per cell would cost).
Needs no database: the tenant's facts are set in the cache.
"""

from __future__ import annotations

import os
import sys
import time
import timeit
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectbooster.test_settings")

import django  # noqa: E402

django.setup()

from babel.numbers import format_currency  # noqa: E402

from core.formats import LocaleFacts  # noqa: E402
from integrations import locale as tenant  # noqa: E402
from integrations.templatetags.portal import day, money  # noqa: E402

NUMBER = 20_000
AMOUNT = Decimal("-1234567.125")
CENTS = Decimal("0.01")


def money_before(value) -> str:
    """The filter before cultures (en-US only, no symbol), as it was."""
    if value in (None, ""):
        return ""
    amount = Decimal(str(value)).quantize(CENTS, rounding=ROUND_HALF_UP)
    return f"{amount if amount else amount.copy_abs():,}"


def _per_call_us(statement) -> float:
    return min(timeit.repeat(statement, number=NUMBER, repeat=5)) / NUMBER * 1e6


def _as_tenant(facts: LocaleFacts) -> None:
    tenant._cached = (time.monotonic() + 3600, facts)  # as after the first read of a page


def main() -> None:
    rows = []
    rows.append(("money before cultures (en-US only)", _per_call_us(lambda: money_before(AMOUNT))))
    for facts in (
        LocaleFacts("USD", "en-US", "MM/dd/yyyy"),
        LocaleFacts("EUR", "de-DE", "dd.MM.yyyy"),
        LocaleFacts("JPY", "ja-JP", ""),
        LocaleFacts("EUR", "fr-FR", "d MMMM yyyy"),
        LocaleFacts("INR", "en-IN", ""),
    ):
        _as_tenant(facts)
        rows.append((f"money, {facts.culture} {facts.currency}", _per_call_us(lambda: money(AMOUNT))))
        rows.append((f"money:'USD', {facts.culture}", _per_call_us(lambda: money(AMOUNT, "USD"))))
        rows.append((f"day, {facts.culture} {facts.date_format!r}", _per_call_us(lambda: day(date(2026, 3, 5)))))
    rows.append(
        ("babel format_currency, de-DE EUR", _per_call_us(lambda: format_currency(AMOUNT, "EUR", locale="de_DE")))
    )
    width = max(len(label) for label, _ in rows)
    print(f"{'per call':<{width}}  microseconds")
    for label, micros in rows:
        print(f"{label:<{width}}  {micros:8.2f}")


if __name__ == "__main__":
    main()
