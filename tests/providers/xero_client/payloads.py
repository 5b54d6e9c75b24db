"""Canned Xero records, shaped like the examples of Xero's OpenAPI document (checked against its
schemas in ``test_contract``)."""

from __future__ import annotations

from typing import Any

TENANT_ID = "fe79f7dd-b6d4-4a92-ba7b-538af6289c58"
ORG_ID = "b2c885a9-4bb9-4a00-9b6e-6c2bf60b1a2e"
CONTACT_ID = "5cc8cf28-567e-4d43-b287-687cfcaec47c"
INVOICE_ID = "d4956132-ed94-4dd7-9eaa-aa22dfdf06f2"
PAYMENT_ID = "61ed71fc-01bf-4eb8-8419-8a18789ff45f"
ACCOUNT_ID = "5690f1e8-1d02-4893-90c2-ee1a69eff942"


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def organisation() -> dict[str, Any]:
    return {
        "OrganisationID": ORG_ID,
        "APIKey": "",
        "Name": "Demo MSP (NZ)",
        "LegalName": "Demo MSP Limited",
        "PaysTax": True,
        "Version": "NZ",
        "OrganisationType": "COMPANY",
        "BaseCurrency": "NZD",
        "CountryCode": "NZ",
        "IsDemoCompany": True,
        "OrganisationStatus": "ACTIVE",
        "Timezone": "NEWZEALANDSTANDARDTIME",
        "ShortCode": "!23eYt",
        "Edition": "BUSINESS",
        "Class": "PREMIUM",
        "CreatedDateUTC": "/Date(1555024860000)/",
    }


def account(n: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "AccountID": ACCOUNT_ID if n == 0 else uid(900 + n),
        "Code": "090",
        "Name": "Business Bank Account",
        "Status": "ACTIVE",
        "Type": "BANK",
        "TaxType": "NONE",
        "Class": "ASSET",
        "EnablePaymentsToAccount": False,
        "ShowInExpenseClaims": False,
        "BankAccountNumber": "0209087654321050",
        "BankAccountType": "BANK",
        "CurrencyCode": "NZD",
        "ReportingCode": "ASS",
        "HasAttachments": False,
        "UpdatedDateUTC": "/Date(1551399321043+0000)/",
        "AddToWatchlist": False,
        **fields,
    }


def contact(n: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "ContactID": CONTACT_ID if n == 0 else uid(n),
        "ContactStatus": "ACTIVE",
        "Name": "Katherine Warren" if n == 0 else f"Customer {n}",
        "FirstName": "Katherine",
        "LastName": "Warren",
        "AccountNumber": "ACME-001",
        "EmailAddress": "kat.warren@clampett.com",
        "ContactPersons": [
            {"FirstName": "Ann", "LastName": "Lee", "EmailAddress": "ann@clampett.com", "IncludeInEmails": True},
            {"FirstName": "Bob", "LastName": "Fry", "EmailAddress": "bob@clampett.com", "IncludeInEmails": False},
        ],
        "Addresses": [{"AddressType": "POBOX", "City": "Palo Alto", "Region": "CA", "PostalCode": "94020"}],
        "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "847-1294", "PhoneAreaCode": "(626)"}],
        "UpdatedDateUTC": "/Date(1503348544227+0000)/",
        "ContactGroups": [],
        "IsSupplier": False,
        "IsCustomer": True,
        "HasAttachments": False,
        "HasValidationErrors": False,
        **fields,
    }


def invoice(n: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "Type": "ACCREC",
        "InvoiceID": INVOICE_ID if n == 0 else uid(5000 + n),
        "InvoiceNumber": "INV-0001" if n == 0 else f"INV-{n:04d}",
        "Reference": "Managed services May",
        "Payments": [],
        "CreditNotes": [],
        "Prepayments": [],
        "Overpayments": [],
        "AmountDue": 1150.10,
        "AmountPaid": 100.00,
        "AmountCredited": 0.00,
        "SentToContact": True,
        "CurrencyRate": 1.000000,
        "HasErrors": False,
        "IsDiscounted": False,
        "HasAttachments": False,
        "Contact": {"ContactID": CONTACT_ID, "Name": "Katherine Warren", "ContactPersons": []},
        "Date": "/Date(1714521600000+0000)/",
        "DueDate": "/Date(1717113600000+0000)/",
        "Status": "AUTHORISED",
        "LineAmountTypes": "Exclusive",
        "LineItems": [
            {
                "Description": "Managed services",
                "UnitAmount": 1000.00,
                "TaxType": "OUTPUT2",
                "TaxAmount": 150.01,
                "LineAmount": 1000.09,
                "AccountCode": "200",
                "Quantity": 1.0,
                "LineItemID": "173dfdb9-43b5-4bd2-ae25-9419e662a3a7",
            }
        ],
        "SubTotal": 1100.09,
        "TotalTax": 150.01,
        "Total": 1250.10,
        "UpdatedDateUTC": "/Date(1717000000123+0000)/",
        "CurrencyCode": "NZD",
        **fields,
    }


def payment(n: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "PaymentID": PAYMENT_ID if n == 0 else uid(7000 + n),
        "Date": "/Date(1552348800000+0000)/",
        "BankAmount": 100.00,
        "Amount": 100.00,
        "Reference": "Card 4242",
        "CurrencyRate": 1.000000,
        "PaymentType": "ACCRECPAYMENT",
        "Status": "AUTHORISED",
        "UpdatedDateUTC": "/Date(1552432238623+0000)/",
        "HasAccount": True,
        "IsReconciled": False,
        "Account": {"AccountID": ACCOUNT_ID, "Code": "090", "Name": "Business Bank Account"},
        "Invoice": {
            "Type": "ACCREC",
            "InvoiceID": INVOICE_ID,
            "InvoiceNumber": "INV-0001",
            "Contact": {"ContactID": CONTACT_ID, "Name": "Katherine Warren"},
            "CurrencyCode": "NZD",
        },
        "HasValidationErrors": False,
        **fields,
    }


def pagination(page: int, page_count: int, item_count: int, page_size: int = 100) -> dict[str, int]:
    return {"page": page, "pageSize": page_size, "pageCount": page_count, "itemCount": item_count}


def validation_error(*messages: str) -> dict[str, Any]:
    """Xero's 400 answer to a refused write (``summarizeErrors=true``)."""
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [
            {
                "InvoiceID": INVOICE_ID,
                "ValidationErrors": [{"Message": m} for m in messages],
            }
        ],
    }


def connection(n: int = 0) -> dict[str, Any]:
    return {
        "id": "7cb59f93-2964-421d-bb5e-a0f7a4572a44" if n == 0 else uid(8000 + n),
        "authEventId": "d99ecdfe-391d-43d2-b834-17636ba90e8d",
        "tenantId": TENANT_ID if n == 0 else uid(8100 + n),
        "tenantType": "ORGANISATION",
        "tenantName": "Demo MSP (NZ)" if n == 0 else f"Org {n}",
        "createdDateUtc": "2019-12-07T18:46:19.5165400",
        "updatedDateUtc": "2019-12-07T18:46:19.5187840",
    }


def token(access: str = "acc-1", refresh: str = "ref-2", expires_in: int = 1800) -> dict[str, Any]:
    return {
        "id_token": "idt-1",
        "access_token": access,
        "expires_in": expires_in,
        "token_type": "Bearer",
        "refresh_token": refresh,
        "scope": "offline_access accounting.invoices accounting.payments accounting.contacts accounting.settings.read",
    }
