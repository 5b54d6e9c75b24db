"""Synced records made directly (no BMS): organizations, contacts, invoices and lines."""

from decimal import Decimal

import factory
from django.utils import timezone

from billing.models import Invoice, InvoiceLine
from integrations.models import DataSource
from organizations.models import Contact, Organization


class DataSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataSource
        django_get_or_create = ("provider_key", "tenant_key")

    provider_key = "kaseya-bms"
    tenant_key = "https://bms.example|demo msp"
    display_name = "Demo MSP"


class _Synced(factory.django.DjangoModelFactory):
    source = factory.SubFactory(DataSourceFactory)
    bms_id = factory.Sequence(lambda n: 10_000 + n)
    sync_hash = factory.Sequence(lambda n: f"{n:032x}")
    synced_at = factory.LazyFunction(timezone.now)


class OrganizationFactory(_Synced):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Client {n} Ltd")


class ContactFactory(_Synced):
    class Meta:
        model = Contact

    organization = factory.SubFactory(OrganizationFactory)
    first_name = factory.Sequence(lambda n: f"Pat{n}")
    last_name = "Example"
    email = factory.Sequence(lambda n: f"contact{n}@client.example")
    is_active = True


class InvoiceFactory(_Synced):
    class Meta:
        model = Invoice

    organization = factory.SubFactory(OrganizationFactory)
    number = factory.Sequence(lambda n: f"INV-{5000 + n}")
    status = "Sent"
    invoice_date = factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(days=10))
    due_date = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=20))
    total = Decimal("1234.56")
    tax = Decimal("34.56")
    paid_amount = Decimal("0")
    balance_due = Decimal("1234.56")


class InvoiceLineFactory(_Synced):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    name = factory.Sequence(lambda n: f"Managed services {n}")
    quantity = Decimal("2")
    unit_price = Decimal("600")
    total = Decimal("1200")
