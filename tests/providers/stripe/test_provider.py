"""The Stripe card: settings (secrets encrypted, never rendered back), Test Connection against
localstripe and the portal's own webhook endpoint, Delete; and the installation's mapping of
Stripe's answers to the neutral payment types."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from integrations.base import Capability, Category
from integrations.capabilities import ChargeState, WebhookRejected
from integrations.models import DataSource, Integration
from integrations.registry import get_provider, installation_of, installation_offering
from providers.stripe.installation import signed_test_delivery
from tests.payments.conftest import PUBLISHABLE_KEY, WEBHOOK_SECRET

SETTINGS_URL = "/integrations/stripe/settings/"


def test_the_provider_offers_collect_payments():
    provider = get_provider("stripe")
    assert (provider.name, provider.category) == ("Stripe", Category.PAYMENTS)
    assert provider.capabilities == {Capability.TEST_CONNECTION, Capability.COLLECT_PAYMENTS}
    assert not provider.can_sync
    assert provider.secret_fields == ("secret_key", "webhook_secret")


@pytest.mark.django_db
def test_the_integrations_page_shows_the_stripe_card_without_sync_now(admin_client, stripe_integration):
    page = admin_client.get("/integrations/").content.decode()
    card = page[page.index('id="card-stripe"') :]
    card = card[: card.index("</section>")]
    assert "Stripe" in card and "Payments" in card
    assert reverse("integrations:test", args=["stripe"]) in card
    assert reverse("integrations:sync", args=["stripe"]) not in card
    assert 'data-bs-target="#delete-stripe"' in card


@pytest.mark.django_db
def test_settings_store_secrets_encrypted_and_never_render_them(admin_client):
    answer = admin_client.post(
        SETTINGS_URL,
        {"publishable_key": PUBLISHABLE_KEY, "secret_key": "sk_test_TopSecret123", "webhook_secret": "whsec_Hidden456"},
    )
    assert answer.status_code == 302
    integration = Integration.objects.get(provider_key="stripe")
    assert integration.config == {"publishable_key": PUBLISHABLE_KEY, "mode": "test"}
    assert integration.get_secret("secret_key") == "sk_test_TopSecret123"
    assert "TopSecret123" not in str(integration.encrypted_secrets)
    page = admin_client.get(SETTINGS_URL).content.decode()
    assert "TopSecret123" not in page and "Hidden456" not in page
    assert "A secret key is stored" in page and "/payments/webhooks/stripe/" in page

    # Empty secret fields keep the stored ones.
    assert admin_client.post(SETTINGS_URL, {"publishable_key": PUBLISHABLE_KEY}).status_code == 302
    integration.refresh_from_db()
    assert integration.get_secret("webhook_secret") == "whsec_Hidden456"
    first = AuditEvent.objects.filter(action="integration.saved").order_by("pk").first()
    changes = {change["field"]: change for change in first.details["changes"]}
    assert sorted(changes) == ["mode", "publishable_key", "secret_key", "webhook_secret"]
    assert changes["secret_key"] == {"field": "secret_key", "label": changes["secret_key"]["label"], "secret": True}
    assert changes["publishable_key"]["new"] == PUBLISHABLE_KEY  # not a secret: old → new
    assert "TopSecret123" not in str(AuditEvent.objects.values_list("details", flat=True))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"publishable_key": "sk_test_Oops", "secret_key": "sk_test_a", "webhook_secret": "whsec_a"}, "publishable_key",
         "That is a secret key"),
        ({"publishable_key": PUBLISHABLE_KEY, "secret_key": "pk_test_a", "webhook_secret": "whsec_a"}, "secret_key",
         "That is the publishable key"),
        ({"publishable_key": PUBLISHABLE_KEY, "secret_key": "sk_live_a", "webhook_secret": "whsec_a"}, "secret_key",
         "use the test secret key too"),
        ({"publishable_key": PUBLISHABLE_KEY, "secret_key": "sk_test_a", "webhook_secret": "secret"}, "webhook_secret",
         "starts with whsec_"),
        ({"publishable_key": PUBLISHABLE_KEY}, "secret_key", "Enter the secret key"),
    ],
)  # fmt: skip
def test_settings_validation_is_specific_and_saves_nothing(admin_client, data, field, message):
    answer = admin_client.post(SETTINGS_URL, data)
    assert answer.status_code == 200
    form = answer.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert not Integration.objects.filter(provider_key="stripe").exists()
    assert "sk_test_Oops" not in answer.content.decode()


@pytest.mark.django_db
def test_another_publishable_key_needs_the_secrets_again(admin_client, stripe_integration):
    answer = admin_client.post(SETTINGS_URL, {"publishable_key": "pk_test_another_account"})
    assert answer.status_code == 200
    assert "Enter the secret key again" in str(answer.context["form"].errors["secret_key"])
    assert "Enter the webhook signing secret again" in str(answer.context["form"].errors["webhook_secret"])


@pytest.mark.django_db
def test_only_master_admins_change_settings(billing_client, client_client):
    assert billing_client.get(SETTINGS_URL).status_code == 403
    assert client_client.post(SETTINGS_URL, {"publishable_key": PUBLISHABLE_KEY}).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_test_connection_passes_against_localstripe_and_the_live_webhook_endpoint(
    admin_client, stripe_integration, live_server, settings
):
    settings.PORTAL_BASE_URL = live_server.url
    answer = admin_client.post("/integrations/stripe/test/")
    assert answer.status_code == 302
    integration = Integration.objects.get(provider_key="stripe")
    checks = {c["area"]: c for c in integration.last_test_checks}
    assert all(c["passed"] for c in checks.values()), checks
    assert "accepted a test event signed with the stored secret" in checks["webhook"]["detail"]
    assert "does not report whether charges are enabled" in checks["charges"]["detail"]
    source = DataSource.objects.get(provider_key="stripe")
    assert source.integration_id == integration.pk and source.tenant_key.startswith("server:127.0.0.1:")
    # The test event was answered, not stored as a processor event.
    from payments.models import ProcessorEvent

    assert ProcessorEvent.objects.count() == 0


@pytest.mark.django_db
def test_test_connection_says_precisely_when_the_webhook_endpoint_is_unreachable(stripe_integration, settings):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    result = installation_of(stripe_integration).test_connection()
    checks = {c.area: c for c in result.checks}
    assert checks["key"].passed and checks["charges"].passed
    webhook = checks["webhook"]
    assert webhook.passed is False
    assert "http://127.0.0.1:9/payments/webhooks/stripe/" in webhook.detail
    assert "checked locally: an event signed with it verifies" in webhook.detail
    assert "PORTAL_BASE_URL" in webhook.remedy


@pytest.mark.django_db
def test_test_connection_names_a_refused_key(stripe_integration):
    stripe_integration.set_secret("secret_key", "not-a-key-9f8e7d")
    stripe_integration.save()
    result = installation_of(stripe_integration).test_connection()
    key = result.checks[0]
    assert (key.area, key.passed) == ("key", False)
    assert "9f8e7d" not in key.detail and "API keys" in key.remedy
    assert [c.passed for c in result.checks[1:]] == [None, None, None]
    assert result.tenant is None


@pytest.mark.django_db
def test_test_connection_refuses_keys_of_different_modes(stripe_integration):
    stripe_integration.config = {**stripe_integration.config, "publishable_key": "pk_live_abc", "mode": "live"}
    stripe_integration.save()
    check = installation_of(stripe_integration).test_connection().checks[1]
    assert (check.area, check.passed) == ("publishable_key", False)
    assert "live key" in check.detail and "test key" in check.detail


@pytest.mark.django_db
def test_delete_removes_the_credentials(admin_client, stripe_integration):
    assert admin_client.post("/integrations/stripe/delete/").status_code == 302
    assert not Integration.objects.filter(provider_key="stripe").exists()
    assert installation_offering(Capability.COLLECT_PAYMENTS) is None


@pytest.mark.django_db
def test_webhook_deliveries_are_verified_on_the_raw_body(stripe_integration):
    installation = installation_of(stripe_integration)
    body, signature = signed_test_delivery(WEBHOOK_SECRET)
    assert installation.parse_webhook(body, signature).type == "portal.webhook_test"
    for bad_body, bad_signature in [
        (body.replace(b"test", b"tost"), signature),
        (body, signed_test_delivery("whsec_other")[1]),
        (body, None),
        (body, signed_test_delivery(WEBHOOK_SECRET, now=1_000_000)[1]),
    ]:
        with pytest.raises(WebhookRejected):
            installation.parse_webhook(bad_body, bad_signature)


@pytest.mark.django_db
def test_charges_map_to_neutral_states(stripe_integration, localstripe, organization):
    from tests.payments.conftest import save_card

    installation = installation_of(stripe_integration)
    method = save_card(localstripe, organization, card="4000000000000341")
    charge = installation.create_charge(
        amount_minor=500,
        currency="USD",
        customer_id=method.processor_customer_id,
        method_id=method.processor_method_id,
        method_kind="card",
        idempotency_key="t-1",
        metadata={"portal_payment": "payment-1"},
    )
    assert charge.state is ChargeState.REQUIRES_CONFIRMATION and charge.client_secret
    declined = installation.confirm_charge(charge.id, idempotency_key="t-1-confirm", off_session=False)
    assert (declined.state, declined.failure_message) == (ChargeState.FAILED, "Your card was declined.")
    assert installation.charge(charge.id).state is ChargeState.FAILED
    assert [c.id for c in installation.charges_with(metadata_key="portal_payment", value="payment-1")] == [charge.id]
    saved = installation.saved_method(method.processor_method_id)
    assert (saved.kind, saved.last4, saved.funding) == ("card", "0341", "credit")


@pytest.mark.django_db(transaction=True)
def test_the_demo_command_connects_the_card_to_localstripe(localstripe, live_server, settings):
    from io import StringIO

    from django.core.management import call_command

    settings.STRIPE_API_BASE = localstripe.url
    settings.PORTAL_BASE_URL = live_server.url
    out = StringIO()
    call_command("stripe_demo", stdout=out)
    assert "Test Connection passed" in out.getvalue()
    integration = Integration.objects.get(provider_key="stripe")
    assert integration.last_test_passed and integration.config["mode"] == "test"
    # Leave localstripe's endpoint pointing nowhere for the next tests.
    localstripe.register_webhook("http://127.0.0.1:9/", "whsec_unused", endpoint_id="portal", events=[])
