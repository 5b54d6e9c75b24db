from decimal import Decimal

import pytest

from providers.stripe.money import (
    AmountNotRepresentable,
    check_minor_units,
    from_minor_units,
    minor_unit_exponent,
    stripe_currency,
    to_minor_units,
)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("123.45", "EUR", 12345),
        ("123.4", "usd", 12340),
        ("0.01", "GBP", 1),
        ("500", "JPY", 500),
        ("1000", "krw", 1000),
        ("5.120", "KWD", 5120),
        ("5.12", "BHD", 5120),
        ("40", "ISK", 4000),
        ("1E+2", "USD", 10000),
    ],
)
def test_to_minor_units(amount, currency, minor):
    assert to_minor_units(Decimal(amount), currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("1.005", "EUR"),  # would round to a cent
        ("1.5", "JPY"),  # zero-decimal: no fractions
        ("5.124", "KWD"),  # three-decimal: Stripe wants the last digit 0
        ("40.10", "ISK"),  # whole krónur only
        ("Infinity", "EUR"),
        ("NaN", "EUR"),
    ],
)
def test_amounts_that_would_round_are_refused(amount, currency):
    with pytest.raises(AmountNotRepresentable):
        to_minor_units(Decimal(amount), currency)


def test_floats_and_bad_codes_are_refused():
    with pytest.raises(TypeError):
        to_minor_units(1.1, "EUR")
    with pytest.raises(ValueError, match="currency"):
        to_minor_units(Decimal("1"), "EURO")
    with pytest.raises(TypeError):
        check_minor_units(True, "EUR")


def test_from_minor_units_keeps_the_currency_exponent():
    assert from_minor_units(12345, "EUR") == Decimal("123.45")
    assert str(from_minor_units(12300, "eur")) == "123.00"
    assert str(from_minor_units(500, "JPY")) == "500"
    assert str(from_minor_units(5120, "KWD")) == "5.120"
    for currency, minor in (("EUR", 1), ("JPY", 7), ("KWD", 1230), ("ISK", 4200)):
        assert to_minor_units(from_minor_units(minor, currency), currency) == minor


def test_exponents_and_stripe_spelling():
    assert [minor_unit_exponent(c) for c in ("EUR", "JPY", "KWD", "ISK", "HUF")] == [2, 0, 3, 2, 2]
    assert stripe_currency(" EUR ") == "eur"
    assert check_minor_units(5130, "kwd") == 5130
    with pytest.raises(AmountNotRepresentable):
        check_minor_units(5131, "KWD")
