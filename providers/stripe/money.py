"""Amounts as Stripe counts them: an integer of the currency's minor unit.

Invariants:
- A conversion never rounds: an amount with more precision than Stripe accepts for its
  currency is refused (:class:`AmountNotRepresentable`), so the portal never charges or refunds a
  different sum than it meant.
- Rules follow Stripe's "Supported currencies" page (docs.stripe.com/currencies):
  zero-decimal currencies are sent as whole units (JPY 500 -> 500); three-decimal currencies are
  sent in thousandths but Stripe requires the last digit to be 0 (KWD 5.120 -> 5120; 5.124 is
  refused); ISK stays two-decimal in the API but only whole krónur are accepted (multiples of 100).
  HUF and TWD charge as two-decimal currencies (their zero-decimal rule concerns payouts only).
- Currencies are ISO 4217 codes; Stripe wants them lowercase (:func:`stripe_currency`).
"""

from __future__ import annotations

import re
from decimal import Decimal

#: Stripe's zero-decimal currencies: the amount is the number of whole units.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
#: Three-decimal currencies: amounts in thousandths, least significant digit 0.
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
#: Two-decimal in the API, but only whole units may be charged or refunded (minor amount % 100 == 0).
WHOLE_UNITS_ONLY_CURRENCIES = frozenset({"ISK"})

_CURRENCY_CODE = re.compile(r"^[A-Za-z]{3}$")


class AmountNotRepresentable(ValueError):
    """The amount cannot be sent to Stripe in that currency without rounding."""


def normalize_currency(currency: str) -> str:
    """``"eur"`` / ``" EUR "`` -> ``"EUR"``; anything that is not a three-letter code is refused."""
    code = (currency or "").strip()
    if not _CURRENCY_CODE.match(code):
        raise ValueError(f"Not an ISO 4217 currency code: {currency!r}")
    return code.upper()


def stripe_currency(currency: str) -> str:
    """The currency as the Stripe API wants it: lowercase."""
    return normalize_currency(currency).lower()


def minor_unit_exponent(currency: str) -> int:
    """Number of decimal places Stripe's integer amounts carry for ``currency``."""
    code = normalize_currency(currency)
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def _minor_step(code: str) -> int:
    """The minor amount must be a multiple of this."""
    if code in THREE_DECIMAL_CURRENCIES:
        return 10
    if code in WHOLE_UNITS_ONLY_CURRENCIES:
        return 100
    return 1


def check_minor_units(amount: int, currency: str) -> int:
    """``amount`` (minor units) if Stripe accepts it for ``currency``; refuses 5124 KWD, 4010 ISK."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("Stripe amounts are integers of minor units")
    code = normalize_currency(currency)
    step = _minor_step(code)
    if amount % step:
        raise AmountNotRepresentable(
            f"{code} amounts must be a multiple of {step} minor units for Stripe; {amount} is not"
        )
    return amount


def to_minor_units(amount: Decimal, currency: str) -> int:
    """``Decimal("123.45")``, ``"EUR"`` -> ``12345``. Refuses floats and any amount that would round."""
    if not isinstance(amount, Decimal):
        raise TypeError("amounts are Decimal (a float cannot hold money exactly)")
    if not amount.is_finite():
        raise AmountNotRepresentable(f"Not a finite amount: {amount}")
    code = normalize_currency(currency)
    scaled = amount.scaleb(minor_unit_exponent(code))
    if scaled != scaled.to_integral_value():
        raise AmountNotRepresentable(
            f"{amount} {code} has more decimal places than Stripe accepts ({minor_unit_exponent(code)})"
        )
    return check_minor_units(int(scaled), code)


def from_minor_units(amount: int, currency: str) -> Decimal:
    """``12345``, ``"EUR"`` -> ``Decimal("123.45")``; the result carries the currency's exponent."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("Stripe amounts are integers of minor units")
    return Decimal(amount).scaleb(-minor_unit_exponent(currency))
