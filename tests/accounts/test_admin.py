"""Django's admin (/admin/): Master Admins only, read-only, never a secret.

The walk: one real row of every registered model, then every changelist and change page as
a Master Admin answers 200 without a secret or a Fernet token; Billing staff and client
contacts are refused (403), and a visitor is sent to the portal's sign-in page."""

import datetime
import decimal
import itertools

import pytest
from django.contrib import admin
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integrations.models import Integration
from tests.billing.factories import ContactFactory, InvoiceLineFactory
from tests.factories import UserFactory
from tests.roles import ADMIN, BILLING, CLIENT

SECRET = "hunter2-very-secret-password"
STRIPE_SECRETS = {"secret_key": "sk_test_51AdminMustNeverShowThis", "webhook_secret": "whsec_AdminMustNeverShowThis"}
FERNET_PREFIX = "gAAAAA"  # every Fernet token starts so
_serial = itertools.count(1)


def _value(field):
    """A valid value for a required field (positive numbers pass the CHECK constraints)."""
    if field.choices:
        return field.choices[0][0]
    n = next(_serial)
    if isinstance(field, models.ForeignKey | models.OneToOneField):
        return _row(field.related_model)
    if isinstance(field, models.EmailField):
        return f"row{n}@example.com"
    if isinstance(field, models.CharField | models.TextField):
        return f"x{n}"[: field.max_length or 20]
    if isinstance(field, models.DecimalField):
        return decimal.Decimal("1")
    if isinstance(field, models.IntegerField | models.BigIntegerField | models.PositiveIntegerField):
        return n
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return datetime.date.today()
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.BooleanField):
        return False
    raise NotImplementedError(f"{field.model.__name__}.{field.name}: {type(field).__name__}")


def _row(model):
    existing = model._default_manager.first()
    if existing is not None:
        return existing
    values = {}
    for field in model._meta.concrete_fields:
        if field.auto_created or field.has_default() or field.null or getattr(field, "auto_now_add", False):
            continue
        values[field.name] = _value(field)
    return model._default_manager.create(**values)


@pytest.fixture
def every_model(db):
    integration = Integration.objects.create(provider_key="kaseya-bms")
    integration.set_secret("password", SECRET)
    integration.save()
    stripe = Integration.objects.create(provider_key="stripe", config={"publishable_key": "pk_test_public"})
    for name, value in STRIPE_SECRETS.items():
        stripe.set_secret(name, value)
    stripe.save()
    InvoiceLineFactory()
    ContactFactory()
    UserFactory(role=CLIENT)
    for model in admin.site._registry:
        _row(model)


def _pages():
    for model in admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        yield reverse("admin:{}_{}_changelist".format(*info))
        for pk in model._default_manager.values_list("pk", flat=True)[:3]:
            yield reverse("admin:{}_{}_change".format(*info), args=[pk])


def test_every_admin_page_answers_a_master_admin_without_a_secret(every_model, admin_client):
    pages = list(_pages())
    assert len(pages) > 2 * len(admin.site._registry) - 1  # a change page of every model
    index = admin_client.get(reverse("admin:index"))
    assert index.status_code == 200
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert SECRET not in html and FERNET_PREFIX not in html, url
        assert not any(value in html for value in STRIPE_SECRETS.values()), url
        assert "encrypted_secrets" not in html and "pbkdf2" not in html, url


def test_the_synced_records_cannot_be_changed_added_or_deleted(every_model, admin_client):
    for model in admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        pk = model._default_manager.values_list("pk", flat=True).first()
        assert admin_client.get(reverse("admin:{}_{}_add".format(*info))).status_code == 403
        assert admin_client.post(reverse("admin:{}_{}_delete".format(*info), args=[pk])).status_code == 403
        change = admin_client.get(reverse("admin:{}_{}_change".format(*info), args=[pk])).content.decode()
        assert 'name="_save"' not in change


def test_the_secret_is_still_there_only_hidden(every_model):
    assert Integration.objects.get(provider_key="kaseya-bms").get_secret("password") == SECRET


@pytest.mark.parametrize("role", [BILLING, CLIENT], ids=["billing", "client"])
def test_billing_staff_and_clients_are_refused(every_model, role):
    web = Client()
    web.force_login(UserFactory(role=role))
    assert web.get(reverse("admin:index")).status_code == 403
    for url in _pages():
        assert web.get(url, follow=True).status_code == 403, url


def test_a_deactivated_master_admin_is_refused(every_model):
    web = Client()
    user = UserFactory(role=ADMIN)
    web.force_login(user)
    user.is_active = False
    user.save()
    response = web.get(reverse("admin:index"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("accounts:login"))


def test_a_visitor_is_sent_to_the_portals_sign_in(every_model):
    response = Client().get(reverse("admin:integrations_syncrun_changelist"), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("role", [BILLING, CLIENT], ids=["billing", "client"])
def test_the_admins_other_pages_refuse_them_too(every_model, role):
    web = Client()
    web.force_login(UserFactory(role=role))
    pk = Integration.objects.get(provider_key="kaseya-bms").pk
    for name, args in [
        ("admin:password_change", []),
        ("admin:jsi18n", []),
        ("admin:autocomplete", []),
        ("admin:app_list", ["integrations"]),
        ("admin:integrations_integration_history", [pk]),
    ]:
        assert web.get(reverse(name, args=args)).status_code == 403, name
