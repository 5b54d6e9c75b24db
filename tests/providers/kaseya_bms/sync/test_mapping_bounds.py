"""Hardening 5, the unit level: which dates and amounts a BMS record may carry into a row.

Dates: only those every time zone can show (`types.EARLIEST_DATE` .. `types.LATEST_DATE`);
others read as empty. Amounts: finite and within their column once rounded; others reject
the record with the field and the value (`RecordRejected`)."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from billing.models import Invoice, InvoiceLine
from integrations.sync.plan import RecordRejected
from providers.kaseya_bms import mapping
from providers.kaseya_bms import types as bms


def _invoice(**fields) -> bms.Invoice:
    return bms.Invoice.from_api({"Id": 7, "InvoiceNumber": "INV-7", "GrandTotal": 100, "PaidAmount": 0, **fields})


def _line(**fields) -> bms.InvoiceLineItem:
    return bms.InvoiceLineItem.from_api({"Id": 70, "InvoiceId": 7, "Qty": 1, "UnitPrice": 1, "TotalPrice": 1, **fields})


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00",  # .NET's DateTime.MinValue: BMS's "no date"
        "0001-01-01T00:00:00+05:00",  # an offset takes it out of the calendar
        "9999-12-31T23:59:59.9999999",  # .NET's DateTime.MaxValue: "never"
        "9999-12-31T20:00:00-05:00",
        "9999-01-01T00:00:00",
        "1752-12-31T23:59:59",
        "not a date",
    ],
)
def test_hardening_5_a_date_no_time_zone_can_show_reads_as_empty(value):
    assert bms.parse_datetime(value) is None
    assert _invoice(DueDate=value).due_date is None


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1753-01-01T00:00:00", datetime(1753, 1, 1, tzinfo=UTC)),
        ("9998-12-31T23:59:59", datetime(9998, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2024-01-31T12:00:00+02:00", datetime(2024, 1, 31, 10, tzinfo=UTC)),
    ],
)
def test_hardening_5_dates_within_range_are_kept_and_shown_in_any_time_zone(value, expected):
    parsed = bms.parse_datetime(value)
    assert parsed == expected
    for hours in (-12, +14):
        parsed.astimezone(timezone(timedelta(hours=hours)))  # no OverflowError


@pytest.mark.parametrize(
    "field, value",
    [
        ("GrandTotal", float("nan")),
        ("GrandTotal", "NaN"),
        ("GrandTotal", "sNaN"),
        ("GrandTotal", float("inf")),
        ("PaidAmount", float("-inf")),
        ("TotalTax", Decimal("1E+400")),
        ("PaymentDue", Decimal("1E+12")),
        ("GrandTotal", Decimal("999999999999.995")),  # rounds up to 10^12: does not fit either
        ("GrandTotal", Decimal("-999999999999.995")),
    ],
)
def test_hardening_5_an_amount_that_is_not_a_number_or_too_large_rejects_its_invoice(field, value):
    with pytest.raises(RecordRejected) as rejected:
        mapping.invoice_row(_invoice(**{field: value}))
    assert rejected.value.record_id == 7 and rejected.value.parent_id is None
    assert rejected.value.reason.startswith(f"{field} is ")


@pytest.mark.parametrize(
    "field, value",
    [("Qty", float("nan")), ("UnitPrice", Decimal("1E+10")), ("TotalPrice", float("inf"))],
)
def test_hardening_5_a_line_amount_that_cannot_be_stored_names_its_invoice(field, value):
    with pytest.raises(RecordRejected) as rejected:
        mapping.invoice_line_row(_line(**{field: value}))
    assert (rejected.value.record_id, rejected.value.parent_id) == (70, 7)


def test_hardening_5_a_contract_price_that_is_not_a_number_rejects_the_contract():
    contract = bms.Contract.from_api({"Id": 3, "ContractName": "MSA", "ContractBillingPrice": float("nan")})
    with pytest.raises(RecordRejected):
        mapping.contract_row(contract)


def test_hardening_5_amounts_up_to_the_columns_size_are_kept_as_before():
    row = mapping.invoice_row(
        _invoice(GrandTotal=Decimal("999999999999.994"), PaidAmount=Decimal("-0.0"), TotalTax=None, PaymentDue=None)
    )
    assert row["total"] == Decimal("999999999999.99")
    assert str(row["paid_amount"]) == "0.00"  # never "-0.00": the row (and its hash) as before
    assert str(row["tax"]) == "0.00"
    assert row["balance_due"] == Decimal("999999999999.99")
    line = mapping.invoice_line_row(_line(Qty=Decimal("2.00005"), UnitPrice=Decimal("9999999999.9999")))
    assert line["quantity"] == Decimal("2.0000")  # half-even, as before
    assert line["unit_price"] == Decimal("9999999999.9999")


def test_the_bounds_are_those_of_the_columns():
    for model, name, bound in (
        (Invoice, "total", mapping.MONEY_BOUND),
        (Invoice, "balance_due", mapping.MONEY_BOUND),
        (InvoiceLine, "total", mapping.MONEY_BOUND),
        (InvoiceLine, "unit_price", mapping.UNIT_BOUND),
        (InvoiceLine, "quantity", mapping.UNIT_BOUND),
    ):
        column = model._meta.get_field(name)
        largest = Decimal(10) ** (column.max_digits - column.decimal_places) - Decimal(10) ** -column.decimal_places
        assert bound == largest + Decimal(10) ** -column.decimal_places / 2, (model, name)


def test_an_id_out_of_range_reads_as_absent():
    fields = bms.Fields({"AccountId": float("inf"), "StatusId": 10**400, "LocationId": float("nan")})
    assert fields.integer("AccountId") is None
    assert fields.integer("StatusId") is None
    assert fields.integer("LocationId") is None
