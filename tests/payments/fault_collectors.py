"""Test-only payment collectors, selected with PAYMENTS_COLLECTOR_WRAPPER (never in production code)."""

import dataclasses
import logging
import os
from datetime import UTC, datetime

from integrations.capabilities import ChargeState, MandateRecord

logger = logging.getLogger(__name__)


class ExitAfterConfirm:
    """Passes every call to the real collector, and ends the worker process the moment the
    processor has confirmed a charge: the crash between the money moving and the portal
    recording it, which exactly-once must survive."""

    def __init__(self, real) -> None:
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def confirm_charge(self, *args, **kwargs):
        charge = self._real.confirm_charge(*args, **kwargs)
        logger.warning("Fault injection: the worker exits after the processor confirmed %s", charge)
        os._exit(70)


class CrashAfterConfirm(ExitAfterConfirm):
    """The same crash inside the test process: the processor confirmed, then the caller dies."""

    def confirm_charge(self, *args, **kwargs):
        self._real.confirm_charge(*args, **kwargs)
        raise SystemExit("the worker died after the processor confirmed the charge")


class BankDebitsClearByWebhook:
    """Real Stripe keeps a SEPA debit Processing for days, until the bank answers, and says so
    with a ``payment_intent.succeeded`` or ``payment_failed`` event; localstripe settles a good
    IBAN's debit at once. Passes every call to the real collector and reports a bank debit's
    settled charge as still processing until that event has reached the portal (is stored)."""

    SETTLING_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed")

    def __init__(self, real) -> None:
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def _as_stripe_would(self, charge):
        from payments.models import MethodKind, PaymentMethod, ProcessorEvent

        settled = charge.state in (ChargeState.SUCCEEDED, ChargeState.FAILED)
        if not settled or not charge.method_id:
            return charge
        if not PaymentMethod.objects.filter(processor_method_id=charge.method_id, kind=MethodKind.SEPA_DEBIT).exists():
            return charge
        if ProcessorEvent.objects.filter(object_id=charge.id, type__in=self.SETTLING_EVENTS).exists():
            return charge
        return dataclasses.replace(charge, state=ChargeState.PROCESSING, failure_code="", failure_message="")

    def confirm_charge(self, *args, **kwargs):
        return self._as_stripe_would(self._real.confirm_charge(*args, **kwargs))

    def charge(self, charge_id):
        return self._as_stripe_would(self._real.charge(charge_id))


class StripeMandates:
    """Real Stripe's side of a SEPA mandate, which localstripe lacks: a confirmed SetupIntent
    names its mandate, and the mandate says when and from where the client accepted it."""

    ACCEPTED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

    def __init__(self, real) -> None:
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def method_setup(self, setup_id):
        return dataclasses.replace(self._real.method_setup(setup_id), mandate_id=f"mandate_{setup_id[5:]}")

    def mandate(self, mandate_id):
        return MandateRecord(
            id=mandate_id,
            reference="STRIPE-REF-1",
            accepted_at=self.ACCEPTED_AT,
            ip_address="203.0.113.7",
            user_agent="Mozilla/5.0 (the client's browser)",
        )
