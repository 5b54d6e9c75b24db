"""Parsing and building Xero's values: .NET and ISO dates, money, where literals, payment drafts."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from providers.xero.transport import dumps
from providers.xero.types import (
    Contact,
    Invoice,
    Page,
    PaymentDraft,
    RateLimits,
    TokenSet,
    format_modified_since,
    parse_date,
    parse_datetime,
    where_literal,
)

from .payloads import INVOICE_ID


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/Date(1700000000000+0000)/", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("/Date(1439434356790)/", datetime(2015, 8, 13, 2, 52, 36, 790000, tzinfo=UTC)),
        ("/Date(1419937200000+1300)/", datetime(2014, 12, 30, 11, 0, tzinfo=UTC)),  # same instant
        ("/Date(-86400000+0000)/", datetime(1969, 12, 31, tzinfo=UTC)),
        ("2019-12-07T18:46:19.5165400", datetime(2019, 12, 7, 18, 46, 19, 516540, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("/Date(abc)/", None),
        ("yesterday", None),
    ],
)
def test_parse_datetime(value, expected):
    assert parse_datetime(value) == expected


def test_parse_date_reads_the_day_in_the_values_zone():
    assert parse_date("/Date(1419937200000+1300)/") == date(2014, 12, 31)  # 11:00 UTC on the 30th
    assert parse_date("/Date(1539129600000+0000)/") == date(2018, 10, 10)
    assert parse_date("2018-10-10T00:00:00") == date(2018, 10, 10)
    assert parse_date(date(2020, 2, 29)) == date(2020, 2, 29)
    assert parse_date("nope") is None


def test_format_modified_since():
    assert format_modified_since(datetime(2024, 5, 1, 23, 59, 59, 999999, tzinfo=UTC)) == "2024-05-01T23:59:59"
    assert format_modified_since(datetime(2024, 5, 2, 1, 0, tzinfo=timezone(timedelta(hours=13)))) == (
        "2024-05-01T12:00:00"
    )
    assert format_modified_since(datetime(2024, 5, 1, 8, 0)) == "2024-05-01T08:00:00"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ACME", '"ACME"'),
        ('O\'Neil "Ltd" \\ Co', '"O\'Neil \\"Ltd\\" \\\\ Co"'),
        (uuid.UUID(INVOICE_ID), f'guid("{INVOICE_ID}")'),
        (date(2024, 1, 31), "DateTime(2024,01,31)"),
        (datetime(2024, 1, 31, 13, 5, 9, tzinfo=UTC), "DateTime(2024,01,31,13,05,09)"),
        (True, "true"),
        (42, "42"),
        (Decimal("10.50"), "10.50"),
    ],
)
def test_where_literal(value, expected):
    assert where_literal(value) == expected


def test_where_literal_refuses_what_it_cannot_quote():
    with pytest.raises(ValueError):
        where_literal('x"\n OR 1==1')
    with pytest.raises(TypeError):
        where_literal(1.5)  # type: ignore[arg-type]


def test_payment_draft_checks():
    ok = {"invoice_id": INVOICE_ID, "amount": Decimal("10.00"), "date": date(2024, 1, 1)}
    assert PaymentDraft(**ok, account_code="090").to_api()["Account"] == {"Code": "090"}
    for bad in (
        {},  # no account
        {"account_code": "090", "account_id": "x"},  # both
    ):
        with pytest.raises(ValueError):
            PaymentDraft(**ok, **bad)
    for amount in (Decimal("0"), Decimal("-1.00"), Decimal("1.005"), Decimal("NaN"), 10.0):
        with pytest.raises(ValueError):
            PaymentDraft(**{**ok, "amount": amount}, account_code="090")
    with pytest.raises(ValueError):
        PaymentDraft(**{**ok, "date": datetime(2024, 1, 1)}, account_code="090")
    assert "Reference" not in PaymentDraft(**ok, account_code="090").to_api()


def test_decimal_is_sent_as_an_exact_json_number():
    assert dumps({"Amount": Decimal("1234567.89")}) == '{"Amount":1234567.89}'
    assert dumps({"Amount": Decimal("0.10")}) == '{"Amount":0.1}'
    with pytest.raises(ValueError):
        dumps({"Amount": Decimal("12345678901234567.89")})


def test_records_are_read_case_insensitively():
    c = Contact.from_api(
        {"contactID": "c1", "name": "N", "contactPersons": [{"emailAddress": "a@x", "includeInEmails": "true"}]}
    )
    assert (c.contact_id, c.name, c.invoice_emails) == ("c1", "N", ("a@x",))
    inv = Invoice.from_api({"invoiceid": "i1", "total": "12.30", "contact": "not an object"})
    assert inv.total == Decimal("12.30") and inv.contact_id is None
    with pytest.raises(ValueError):
        Invoice.from_api({"InvoiceNumber": "no id"})


def test_invoice_emails_skip_duplicates_and_blanks():
    c = Contact.from_api(
        {
            "ContactID": "c",
            "EmailAddress": "Billing@X.com",
            "ContactPersons": [
                {"EmailAddress": "billing@x.com", "IncludeInEmails": True},
                {"EmailAddress": " ", "IncludeInEmails": True},
                {"EmailAddress": "cfo@x.com", "IncludeInEmails": True},
            ],
        }
    )
    assert c.invoice_emails == ("Billing@X.com", "cfo@x.com")


def test_page_end():
    assert Page(items=(), page=1, page_size=100).is_last
    assert not Page(items=(1,) * 100, page=1, page_size=100).is_last
    assert Page(items=(1,) * 99, page=1, page_size=100).is_last
    assert Page(items=(1,) * 100, page=3, page_size=100, page_count=3).is_last
    assert not Page(items=(1,) * 5, page=1, page_size=100, page_count=2).is_last  # Xero's count wins


def test_rate_limits_from_headers():
    assert RateLimits.from_headers({}) is None
    assert RateLimits.from_headers({"X-MinLimit-Remaining": "x"}) is None
    assert RateLimits.from_headers({"X-DayLimit-Remaining": "12"}) == RateLimits(day_remaining=12)


def test_token_set_without_a_jwt_has_no_auth_event():
    now = datetime(2030, 1, 1, tzinfo=UTC)
    tokens = TokenSet.from_api({"access_token": "opaque", "refresh_token": "r"}, now)
    assert tokens.auth_event_id is None and tokens.expires_at == now + timedelta(minutes=30)
    assert TokenSet.from_api({"access_token": "a.!!!.c"}, now).auth_event_id is None
