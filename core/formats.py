"""Amounts and dates as a culture writes them: "$1,234.50" (en-US), "1.234,50 €" (de-DE),
"￥1,235" (ja-JP), "12/02/2026" (MM/dd/yyyy).

Invariants:
- The conventions come from CLDR through Babel (separators, grouping, where the symbol goes,
  the symbol itself, how many decimals a currency has), read once per culture and currency
  and cached (`money_format`, `date_format`): formatting a value is then a dictionary lookup,
  one quantize and one string format, fast enough for every cell of a long list. A small table
  of our own would cover the cultures we thought of; Babel covers every culture BMS can report.
- Amounts round half up to the currency's decimals (JPY 1234.5 -> "￥1,235"), as accountants
  round, and never show "-0.00".
- Dates follow the tenant's own pattern in .NET notation (BMS's ``DateFormat``: "dd/MM/yyyy",
  "MMM d, yyyy"); without one, the culture's short date with a four-digit year.
- An unknown culture or currency falls back to en-US / the code itself: display never fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import get_day_names, get_month_names
from babel.numbers import (
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    get_minus_sign_symbol,
)

FALLBACK_CULTURE = "en-US"
# The portal's own date format before any tenant has said which it uses.
ISO_DATE_FORMAT = "yyyy-MM-dd"


@dataclass(frozen=True)
class LocaleFacts:
    """How a tenant shows money and dates: ISO 4217 ``currency``, ``culture`` ("de-DE") and a
    .NET ``date_format`` ("dd.MM.yyyy"; empty: the culture's)."""

    currency: str
    culture: str
    date_format: str = ""

    @property
    def key(self) -> str:
        """A short signature, for caches of rendered pages."""
        return f"{self.culture}|{self.currency}|{self.date_format}"

    def money(self, value, currency: str | None = None) -> str:
        return money_format(self.culture, currency or self.currency).format(value)

    def day(self, value: date | None) -> str:
        return date_format(self.culture, self.date_format).format(value) if value else ""


def _locale(culture: str) -> Locale:
    try:
        return Locale.parse((culture or FALLBACK_CULTURE).replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(FALLBACK_CULTURE.replace("-", "_"))


def _grouped(digits: str, first: int, rest: int, separator: str) -> str:
    """'1234567' grouped (3, 2) -> '12,34,567' (the Indian grouping)."""
    if len(digits) <= first:
        return digits
    head, tail = digits[:-first], digits[-first:]
    groups = []
    while len(head) > rest:
        groups.insert(0, head[-rest:])
        head = head[:-rest]
    return separator.join([head, *groups, tail])


class MoneyFormat:
    """One culture's way of writing one currency, computed once."""

    def __init__(self, culture: str, currency: str) -> None:
        locale = _locale(culture)
        code = (currency or "").strip().upper()
        pattern = locale.currency_formats["standard"]
        try:
            symbol = get_currency_symbol(code, locale=locale)
            decimals = get_currency_precision(code)
        except (KeyError, ValueError):
            symbol, decimals = code, 2
        minus = get_minus_sign_symbol(locale)
        (self.prefix, self.negative_prefix), (self.suffix, self.negative_suffix) = (
            tuple(part.replace("-", minus).replace("¤", symbol) for part in pair)
            for pair in (pattern.prefix, pattern.suffix)
        )
        self.quantum = Decimal(1).scaleb(-decimals)
        self.group = get_group_symbol(locale)
        self.decimal = get_decimal_symbol(locale)
        self.grouping = pattern.grouping
        # Python writes "1,234.50"; other cultures' separators are swapped in (one translate).
        swapped = {",": self.group, ".": self.decimal}
        self.table = None if swapped == {",": ",", ".": "."} else str.maketrans(swapped)

    def format(self, value) -> str:
        """``value`` (Decimal, int, float or numeric string) in this format; None/"" -> ""."""
        if value is None or value == "":
            return ""
        try:
            amount = (value if type(value) is Decimal else Decimal(str(value))).quantize(self.quantum, ROUND_HALF_UP)
        except (InvalidOperation, ValueError):
            return str(value)
        negative = amount < 0  # a quantized -0.001 is -0.00, which is not < 0: never "-0.00"
        if self.grouping == (3, 3):
            digits = f"{abs(amount):,}"
            if self.table is not None:
                digits = digits.translate(self.table)
        else:
            whole, _, fraction = f"{abs(amount)}".partition(".")
            digits = _grouped(whole, self.grouping[0], self.grouping[1], self.group)
            if fraction:
                digits = f"{digits}{self.decimal}{fraction}"
        if negative:
            return f"{self.negative_prefix}{digits}{self.negative_suffix}"
        return f"{self.prefix}{digits}{self.suffix}"


@lru_cache(maxsize=256)
def money_format(culture: str, currency: str) -> MoneyFormat:
    return MoneyFormat(culture, currency)


# .NET custom date tokens (what BMS's DateFormat uses), longest first; 'text' is literal.
_DATE_TOKEN = re.compile(r"dddd|ddd|dd|d|MMMM|MMM|MM|M|yyyyy|yyyy|yyy|yy|y|'[^']*'|\"[^\"]*\"|\\.|.", re.DOTALL)
_FIELDS = {
    "d": "{day}",
    "dd": "{day:02d}",
    "ddd": "{weekday_short}",
    "dddd": "{weekday}",
    "M": "{month}",
    "MM": "{month:02d}",
    "MMM": "{month_short}",
    "MMMM": "{month_name}",
    "y": "{year_short}",
    "yy": "{year_short:02d}",
    "yyy": "{year:03d}",
    "yyyy": "{year:04d}",
    "yyyyy": "{year:05d}",
}


def _cldr_as_dotnet(pattern: str) -> str:
    """A CLDR short date ("M/d/yy", "dd.MM.y") in .NET notation with a four-digit year."""
    return re.sub(r"y+", "yyyy", pattern.replace("E", "d").replace("L", "M"))


class DateFormat:
    """One .NET date pattern, compiled to a ``str.format`` template once."""

    def __init__(self, culture: str, pattern: str) -> None:
        locale = _locale(culture)
        if not pattern:
            pattern = _cldr_as_dotnet(locale.date_formats["short"].pattern)
        parts = []
        for token in _DATE_TOKEN.findall(pattern):
            if token in _FIELDS:
                parts.append(_FIELDS[token])
            else:
                literal = token[1:-1] if token[:1] in "'\"" and len(token) > 1 else token.lstrip("\\")
                parts.append(literal.replace("{", "{{").replace("}", "}}"))
        self.template = "".join(parts)
        self.with_names = any(name in self.template for name in ("{weekday", "{month_"))
        if self.with_names:
            self.months = get_month_names("wide", locale=locale)
            self.months_short = get_month_names("abbreviated", locale=locale)
            self.weekdays = get_day_names("wide", locale=locale)
            self.weekdays_short = get_day_names("abbreviated", locale=locale)

    def format(self, value: date) -> str:
        if not self.with_names:
            return self.template.format(day=value.day, month=value.month, year=value.year, year_short=value.year % 100)
        weekday = value.weekday()
        return self.template.format(
            day=value.day,
            month=value.month,
            year=value.year,
            year_short=value.year % 100,
            month_name=self.months[value.month],
            month_short=self.months_short[value.month],
            weekday=self.weekdays[weekday],
            weekday_short=self.weekdays_short[weekday],
        )


@lru_cache(maxsize=64)
def date_format(culture: str, pattern: str) -> DateFormat:
    return DateFormat(culture, pattern)
