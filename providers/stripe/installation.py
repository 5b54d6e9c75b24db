"""One configured Stripe integration: the only Django code that builds a StripeGateway.

It implements ``PaymentCollector`` (integrations.capabilities) in the portal's neutral types and
words Stripe's errors for the admin in one place.

Invariants:
- The secret key and webhook secret are read from the encrypted store only here, never logged,
  never put in a message (the gateway redacts keys from Stripe's own messages too).
- ``STRIPE_API_BASE`` (None: real Stripe) and ``STRIPE_JS_URL`` come from the settings, so the
  demo and the tests point at localstripe and production at Stripe with the same code.
- A decline or an authentication request at confirmation is a ``Charge`` state, not an
  exception; only an unknown outcome (Stripe unreachable, 5xx, 409) raises, transient.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext as _

from core.redis import get_redis
from integrations.base import ConnectionCheck, ConnectionTestResult, IntegrationError, IntegrationInstallation
from integrations.base import TenantIdentity as Tenant
from integrations.capabilities import (
    WEBHOOK_TEST_NOTICE_TYPE,
    Charge,
    ChargeState,
    MandateRecord,
    MethodSetup,
    ProcessorNotice,
    RefundOutcome,
    SavedMethod,
    WebhookRejected,
)
from providers.stripe import exceptions as stripe_errors
from providers.stripe import money
from providers.stripe.client import StripeGateway
from providers.stripe.forms import key_mode, webhook_url
from providers.stripe.pacing import RequestPacer
from providers.stripe.types import Event, PaymentIntent, PaymentIntentStatus, PaymentMethod, Refund, SetupIntent

# Test Connection waits this long for the portal's own webhook endpoint.
WEBHOOK_PROBE_TIMEOUT = 10.0

_STATES = {
    PaymentIntentStatus.REQUIRES_CONFIRMATION: ChargeState.REQUIRES_CONFIRMATION,
    PaymentIntentStatus.REQUIRES_ACTION: ChargeState.REQUIRES_ACTION,
    PaymentIntentStatus.PROCESSING: ChargeState.PROCESSING,
    PaymentIntentStatus.REQUIRES_CAPTURE: ChargeState.PROCESSING,  # authorised; the portal never holds
    PaymentIntentStatus.SUCCEEDED: ChargeState.SUCCEEDED,
    PaymentIntentStatus.CANCELED: ChargeState.CANCELED,
}


@functools.cache
def shared_pacer(rate: float) -> RequestPacer | None:
    """The process's pacer for STRIPE_REQUESTS_PER_SECOND (0: none), scheduling through Redis
    so every process shares the account's rate."""
    if not rate:
        return None
    return RequestPacer(rate, redis=get_redis())


def _charge_from(intent: PaymentIntent, *, state: ChargeState | None = None, failure_message: str = "") -> Charge:
    error = intent.last_payment_error
    if state is None:
        if intent.status is PaymentIntentStatus.REQUIRES_PAYMENT_METHOD:
            # Stripe's off-session 402 authentication_required leaves the intent here: the client
            # can still authenticate it on-session. Any other error here is a failed attempt.
            needs_client = error is not None and "authentication_required" in (error.code, error.decline_code)
            state = ChargeState.REQUIRES_ACTION if needs_client else ChargeState.FAILED
        else:
            state = _STATES[intent.status]
    if state is ChargeState.FAILED and not failure_message:
        failure_message = (error.message if error else None) or _("The payment method was not accepted.")
    latest_charge = intent.raw.get("latest_charge")
    refunded = latest_charge.get("amount_refunded") if isinstance(latest_charge, Mapping) else None
    return Charge(
        id=intent.id,
        state=state,
        amount_minor=intent.amount,
        currency=intent.currency,
        method_id=intent.payment_method,
        metadata=dict(intent.metadata),
        failure_code=intent.decline_code or "",
        failure_message=failure_message if state is ChargeState.FAILED else "",
        client_secret=intent.client_secret or "",
        refunded_minor=refunded if isinstance(refunded, int) else None,
    )


def _saved_method(method: PaymentMethod) -> SavedMethod:
    card = method.card
    bank = method.raw.get("sepa_debit") if method.type == "sepa_debit" else None
    bank = bank if isinstance(bank, Mapping) else {}
    return SavedMethod(
        processor_id=method.id,
        customer_id=method.customer,
        kind=method.type,
        brand=(card.brand or "") if card else "",
        last4=(card.last4 if card else method.last4) or "",
        exp_month=card.exp_month if card else None,
        exp_year=card.exp_year if card else None,
        funding=str(card.funding) if card else "",
        bank=" ".join(str(bank[k]) for k in ("country", "bank_code") if bank.get(k)),
        # Older API versions (and localstripe) put the mandate's reference on the method.
        mandate_reference=str(bank.get("mandate_reference") or ""),
    )


def _setup(intent: SetupIntent) -> MethodSetup:
    return MethodSetup(
        id=intent.id,
        client_secret=intent.client_secret or "",
        state=str(intent.status),
        customer_id=intent.customer,
        method_id=intent.payment_method,
        failure_message=(intent.last_error.message or "") if intent.last_error else "",
        mandate_id=intent.mandate,
    )


def _refund(refund: Refund) -> RefundOutcome:
    return RefundOutcome(
        id=refund.id,
        state=refund.status or "pending",
        amount_minor=refund.amount,
        failure_reason=refund.failure_reason or "",
    )


def _notice(event: Event) -> ProcessorNotice:
    return ProcessorNotice(
        id=event.id,
        type=event.type,
        created=event.created,
        object_type=event.object_type,
        object_id=event.object_id,
        payload=event.raw,
    )


def signed_test_delivery(secret: str, *, now: int | None = None) -> tuple[bytes, str]:
    """A test event and its ``Stripe-Signature`` header, signed the way Stripe signs deliveries
    (HMAC-SHA256 of ``timestamp.body`` with the endpoint's secret)."""
    timestamp = int(now if now is not None else time.time())
    body = json.dumps(
        {
            "id": f"evt_test_{secrets.token_hex(8)}",
            "object": "event",
            "type": WEBHOOK_TEST_NOTICE_TYPE,
            "created": timestamp,
            "livemode": False,
            "data": {"object": {"object": "test", "id": "test"}},
        }
    ).encode()
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={timestamp},v1={signature}"


class StripeInstallation(IntegrationInstallation):
    _gateway: StripeGateway | None = None

    # --- the client and the tenant ---------------------------------------------------------------

    def client(self, **options) -> StripeGateway:
        options.setdefault("api_base", settings.STRIPE_API_BASE or None)
        options.setdefault("timeout", (settings.STRIPE_CONNECT_TIMEOUT, settings.STRIPE_READ_TIMEOUT))
        options.setdefault("max_network_retries", settings.STRIPE_MAX_NETWORK_RETRIES)
        options.setdefault("pacer", shared_pacer(settings.STRIPE_REQUESTS_PER_SECOND))
        return StripeGateway(self.integration.get_secret("secret_key"), **options)

    @property
    def gateway(self) -> StripeGateway:
        """One gateway per installation object (the gateway is not thread-safe; an installation
        lives for one request or task)."""
        if self._gateway is None:
            self._gateway = self.client()
        return self._gateway

    def error_message(self, exc: IntegrationError, *, doing: str) -> str:
        if isinstance(exc, stripe_errors.AuthenticationFailed):
            return _("Stripe refused the secret key. Enter it again in the Stripe settings.")
        if isinstance(exc, stripe_errors.PermissionDenied):
            return _(
                "The Stripe key may not do this (%(error)s). Use a secret key, or grant the restricted key access."
            ) % {"error": exc}
        if isinstance(exc, stripe_errors.StripeRateLimited):
            return _("Stripe's rate limit was reached; the portal tries again shortly.")
        if isinstance(exc, stripe_errors.StripeUnavailable):
            return _("%(error)s The portal tries again shortly.") % {"error": exc}
        return str(exc)

    # --- Test Connection -------------------------------------------------------------------------

    def test_connection(self) -> ConnectionTestResult:
        gateway = self.client(max_network_retries=0)
        config = self.integration.config
        secret_mode = key_mode(self.integration.get_secret("secret_key"))
        try:
            account = gateway.retrieve_account()
        except stripe_errors.StripeGatewayError as exc:
            remedy = {
                stripe_errors.AuthenticationFailed: _("Copy the secret key again from Stripe: Developers > API keys."),
                stripe_errors.PermissionDenied: _(
                    "Use the account's secret key, or a restricted key that may read it."
                ),
            }.get(type(exc), _("Check that the portal can reach Stripe, then try again."))
            not_checked = _("Not checked.")
            return ConnectionTestResult(
                [
                    ConnectionCheck("key", _("Secret key"), False, str(exc), remedy),
                    ConnectionCheck("publishable_key", _("Publishable key"), None, not_checked),
                    ConnectionCheck("charges", _("Account can take charges"), None, not_checked),
                    ConnectionCheck("webhook", _("Webhook endpoint"), None, not_checked),
                ]
            )
        checks = [ConnectionCheck("key", _("Secret key"), True, _("Stripe accepted the secret key."))]

        publishable_mode = key_mode(config.get("publishable_key", ""))
        if publishable_mode != secret_mode:
            checks.append(
                ConnectionCheck(
                    "publishable_key",
                    _("Publishable key"),
                    False,
                    _("The publishable key is a %(publishable_mode)s key, the secret key a %(secret_mode)s key.")
                    % {"publishable_mode": publishable_mode or _("unknown"), "secret_mode": secret_mode},
                    _("Use the two keys of the same mode (test or live) of the same account."),
                )
            )
        elif account.livemode is not None and account.livemode != (secret_mode == "live"):
            checks.append(
                ConnectionCheck(
                    "publishable_key",
                    _("Publishable key"),
                    False,
                    _("Stripe answered in %(answered_mode)s mode for a %(secret_mode)s key.")
                    % {"answered_mode": "live" if account.livemode else "test", "secret_mode": secret_mode},
                    _("Copy both keys again from Stripe."),
                )
            )
        else:
            checks.append(
                ConnectionCheck(
                    "publishable_key",
                    _("Publishable key"),
                    True,
                    _("Both keys are %(mode)s keys.") % {"mode": secret_mode},
                )
            )

        if account.charges_enabled is True:
            checks.append(
                ConnectionCheck("charges", _("Account can take charges"), True, _("Stripe says charges are enabled."))
            )
        elif account.charges_enabled is False:
            checks.append(
                ConnectionCheck(
                    "charges",
                    _("Account can take charges"),
                    False,
                    _("Stripe says this account cannot take charges yet."),
                    _("Finish activating the account in the Stripe Dashboard (business details, bank account)."),
                )
            )
        else:
            host = urlsplit(gateway.api_base or "").netloc
            checks.append(
                ConnectionCheck(
                    "charges",
                    _("Account can take charges"),
                    True,
                    _("The test server at %(host)s does not report whether charges are enabled; it takes test charges.")
                    % {"host": host},
                )
            )
        checks.append(self._webhook_check())
        if account.id:
            tenant = Tenant(f"account:{account.id}", account.display_name or account.id)
        else:
            host = urlsplit(gateway.api_base or "").netloc
            tenant = Tenant(f"server:{host}", f"Stripe test server at {host}")
        return ConnectionTestResult(checks, tenant=tenant)

    def _webhook_check(self) -> ConnectionCheck:
        """POST a test event signed with the stored secret to the portal's own endpoint: proves
        the endpoint is reachable at PORTAL_BASE_URL and verifies signatures with that secret.
        Whether Stripe has the same secret for that URL only Stripe knows (its Dashboard shows
        it once): a mismatch shows as deliveries failing there."""
        secret = self.integration.get_secret("webhook_secret")
        label = _("Webhook endpoint")
        if not secret:
            return ConnectionCheck(
                "webhook", label, False, _("No webhook signing secret is stored."), _("Enter it in Settings.")
            )
        url = webhook_url()
        body, signature = signed_test_delivery(secret)
        try:
            StripeGateway.verify_webhook(body, signature, secret)
        except stripe_errors.StripeSignatureError as exc:  # a secret the library cannot use
            return ConnectionCheck("webhook", label, False, str(exc), _("Copy the signing secret again from Stripe."))
        try:
            answer = requests.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", "Stripe-Signature": signature},
                timeout=WEBHOOK_PROBE_TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return ConnectionCheck(
                "webhook",
                label,
                False,
                _(
                    "The portal could not reach its own webhook endpoint %(url)s (%(error)s). "
                    "The signing secret was checked locally: an event signed with it verifies."
                )
                % {"url": url, "error": type(exc).__name__},
                _("Set PORTAL_BASE_URL to the address this portal is reached at (Stripe must reach it too)."),
            )
        if answer.status_code != 200:
            return ConnectionCheck(
                "webhook",
                label,
                False,
                _("%(url)s answered HTTP %(status)s to a test event signed with the stored secret.")
                % {"url": url, "status": answer.status_code},
                _("Check that PORTAL_BASE_URL points at this portal and the secret was saved."),
            )
        return ConnectionCheck(
            "webhook",
            label,
            True,
            _(
                "%(url)s accepted a test event signed with the stored secret. In Stripe, the endpoint for this URL "
                "must show the same signing secret."
            )
            % {"url": url},
        )

    # --- PaymentCollector ------------------------------------------------------------------------

    def browser_config(self) -> tuple[str, str]:
        return self.integration.config.get("publishable_key", ""), settings.STRIPE_JS_URL

    def to_minor_units(self, amount: Decimal, currency: str) -> int:
        return money.to_minor_units(amount, currency)

    def from_minor_units(self, amount_minor: int, currency: str) -> Decimal:
        return money.from_minor_units(amount_minor, currency)

    def create_customer(self, *, name: str, email: str, reference: str, idempotency_key: str) -> str:
        customer = self.gateway.create_customer(
            name=name or None,
            email=email or None,
            metadata={"portal_ref": reference},
            idempotency_key=idempotency_key,
        )
        return customer.id

    def begin_method_setup(
        self, *, customer_id: str, kinds: tuple[str, ...], idempotency_key: str | None = None
    ) -> MethodSetup:
        return _setup(
            self.gateway.create_setup_intent(
                customer=customer_id, payment_method_types=kinds, idempotency_key=idempotency_key
            )
        )

    def method_setup(self, setup_id: str) -> MethodSetup:
        return _setup(self.gateway.retrieve_setup_intent(setup_id))

    def attach_method(self, *, method_id: str, customer_id: str) -> SavedMethod:
        return _saved_method(self.gateway.attach_payment_method(method_id, customer=customer_id))

    def saved_method(self, method_id: str) -> SavedMethod:
        return _saved_method(self.gateway.retrieve_payment_method(method_id))

    def mandate(self, mandate_id: str) -> MandateRecord | None:
        try:
            mandate = self.gateway.retrieve_mandate(mandate_id)
        except stripe_errors.NotFound:
            return None  # a server without mandates (localstripe)
        return MandateRecord(
            id=mandate.id,
            reference=mandate.reference or "",
            accepted_at=mandate.accepted_at,
            ip_address=mandate.ip_address or "",
            user_agent=mandate.user_agent or "",
            url=mandate.url or "",
        )

    def remove_method(self, method_id: str) -> None:
        # Already detached or deleted: the outcome wanted.
        with contextlib.suppress(stripe_errors.InvalidRequest):
            self.gateway.detach_payment_method(method_id)

    def create_charge(
        self,
        *,
        amount_minor: int,
        currency: str,
        customer_id: str,
        method_id: str,
        method_kind: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> Charge:
        intent = self.gateway.create_payment_intent(
            amount=amount_minor,
            currency=currency,
            customer=customer_id,
            payment_method=method_id,
            payment_method_types=(method_kind,),
            metadata=metadata,
            idempotency_key=idempotency_key,
            confirm=False,
        )
        return _charge_from(intent)

    def confirm_charge(self, charge_id: str, *, idempotency_key: str, off_session: bool) -> Charge:
        # Real Stripe is told the client is not there (autopay); localstripe refuses the parameter
        # on a confirmation, and its answer for a card that needs the client is the same anyway.
        off_session_param = True if off_session and self.gateway.is_real_stripe else None
        try:
            intent = self.gateway.confirm_payment_intent(
                charge_id, idempotency_key=idempotency_key, off_session=off_session_param
            )
        except stripe_errors.CardDeclined as exc:
            return _charge_from(
                self.gateway.retrieve_payment_intent(charge_id), state=ChargeState.FAILED, failure_message=exc.message
            )
        except stripe_errors.AuthenticationRequired as exc:
            intent = exc.payment_intent
            if intent is None or not intent.client_secret:
                intent = self.gateway.retrieve_payment_intent(charge_id)
            return _charge_from(intent, state=ChargeState.REQUIRES_ACTION)
        except stripe_errors.InvalidRequest:
            # Already confirmed (by an earlier attempt whose answer was lost): its state says.
            current = self.gateway.retrieve_payment_intent(charge_id)
            if current.status is PaymentIntentStatus.REQUIRES_CONFIRMATION:
                raise
            return _charge_from(current)
        return _charge_from(intent)

    def charge(self, charge_id: str) -> Charge:
        return _charge_from(self.gateway.retrieve_payment_intent(charge_id))

    def charges_with(self, *, metadata_key: str, value: str) -> list[Charge]:
        return [_charge_from(i) for i in self.gateway.find_payment_intents(metadata_key=metadata_key, value=value)]

    def cancel_charge(self, charge_id: str, *, idempotency_key: str) -> Charge:
        return _charge_from(self.gateway.cancel_payment_intent(charge_id, idempotency_key=idempotency_key))

    def refund(
        self,
        *,
        charge_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> RefundOutcome:
        return _refund(
            self.gateway.create_refund(
                payment_intent=charge_id,
                amount=amount_minor,
                currency=currency,
                idempotency_key=idempotency_key,
                metadata=metadata,
            )
        )

    def refund_state(self, refund_id: str) -> RefundOutcome:
        return _refund(self.gateway.retrieve_refund(refund_id))

    def parse_webhook(self, payload: bytes, signature: str | None) -> ProcessorNotice:
        secret = self.integration.get_secret("webhook_secret")
        if not secret:
            raise WebhookRejected("No webhook signing secret is configured.")
        try:
            return _notice(StripeGateway.verify_webhook(payload, signature, secret))
        except stripe_errors.StripeSignatureError as exc:
            raise WebhookRejected(str(exc)) from None

    def recent_notices(self, *, since: datetime, types: tuple[str, ...] = ()) -> Iterator[ProcessorNotice]:
        for event in self.gateway.list_events(created_gte=since, types=list(types) or None):
            yield _notice(event)
