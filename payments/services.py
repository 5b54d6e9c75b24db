"""Payment use cases: save methods, pay invoices, settle charges, refund, take webhook events.

Exactly once, the first rule. A payment is charged at most once whatever fails (double click,
retried or redelivered task, two workers, a crash between Stripe's answer and our commit, a
client payment racing an autopay charge, a processor that ignores idempotency keys):

1. ``payment_create`` locks the invoices (``select_for_update``, by pk), refuses any amount above
   what the client may pay (the synced balance less portal payments BMS does not reflect yet),
   and commits the Payment row (unique ``idempotency_key``: invoice set + attempt) with its
   allocations before anything is sent to the processor. The charge task is enqueued on commit.
   On SQLite (tests, the demo) ``select_for_update`` does nothing, but every transaction is
   ``BEGIN IMMEDIATE`` (one writer at a time), and the unique key stops a double submit anyway.
2. ``payment_charge`` takes the payment's lease (a conditional UPDATE: one worker at a time),
   finds the charge a crashed attempt may have created (by our metadata) or creates one
   *unconfirmed* (nothing moves), stores its id only while none is stored, and confirms only
   the stored id. One charge confirmed per payment; Stripe refuses a second confirmation.
3. Everything after (a retry, a webhook, the nightly settle, the client's page after 3-D Secure)
   re-reads the charge's current state by its stored id and applies it under a row lock;
   a status only moves forward, so duplicates and any order change it once.
4. Deterministic idempotency keys go on every money-moving request anyway (real Stripe honours
   them for 24 hours), but nothing relies on them: localstripe ignores them.

Refunds follow the same shape: the Refund row (unique key per request) and the refundable
check are committed under the payment's row lock before Stripe is asked; one sender at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import User
from accounts.services import audit_record
from billing.models import Invoice
from integrations.base import Capability, IntegrationError
from integrations.capabilities import (
    WEBHOOK_TEST_NOTICE_TYPE,
    Charge,
    ChargeState,
    MandateRecord,
    MethodSetup,
    PaymentCollector,
    ProcessorNotice,
    RefundOutcome,
    SavedMethod,
)
from integrations.locale import tenant_locale
from integrations.registry import installation_offering
from organizations.models import Organization
from payments import selectors, signals
from payments.models import (
    AutopayRule,
    Initiator,
    MethodKind,
    Payment,
    PaymentAllocation,
    PaymentCustomer,
    PaymentMandate,
    PaymentMethod,
    PaymentStatus,
    ProcessorEvent,
    Refund,
    RefundStatus,
)

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
METADATA_KEY = "portal_payment"  # our reference on the processor's charge


class PaymentsUnavailable(Exception):
    """No payment processor is configured."""


class PaymentRefused(Exception):
    """A payment or refund the rules do not allow; the message says why, in the user's words."""


class SurchargeNotShown(PaymentRefused):
    """The surcharge the payment would carry is not the one the client was shown (a new card
    turned out to be a credit card, or the amounts changed): nothing is recorded; show this
    one and ask again."""

    def __init__(self, *, surcharge: Decimal, amount: Decimal, currency: str) -> None:
        self.surcharge = surcharge
        self.amount = amount
        self.currency = currency
        numbers = {"surcharge": f"{surcharge:,.2f}", "total": f"{amount + surcharge:,.2f}", "currency": currency}
        if surcharge:
            message = _(
                "A card surcharge of %(surcharge)s %(currency)s applies to this credit card: the total is "
                "%(total)s %(currency)s. Press Pay to pay it, or choose another method."
            )
        else:
            message = _(
                "No card surcharge applies to this payment method: the total is %(total)s %(currency)s. "
                "Press Pay to pay it, or choose another method."
            )
        super().__init__(message % numbers)


class ChargeBusy(Exception):
    """Another worker holds the payment's lease: try again later."""


@dataclass(frozen=True)
class InvoiceAmount:
    invoice_id: int
    amount: Decimal


def collector() -> PaymentCollector:
    installation = installation_offering(Capability.COLLECT_PAYMENTS)
    if installation is None:
        raise PaymentsUnavailable(_("Online payments are not set up yet."))
    if settings.PAYMENTS_COLLECTOR_WRAPPER:
        # A wrapper class named in settings, as Django selects a mail backend: the tests use
        # it to stop a worker between the processor's answer and the portal's record.
        return import_string(settings.PAYMENTS_COLLECTOR_WRAPPER)(installation)
    return installation  # type: ignore[return-value]


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def _lease_until() -> timezone.datetime:
    return timezone.now() + timedelta(seconds=settings.PAYMENTS_CHARGE_LEASE_SECONDS)


def _announce(payment: Payment, previous_status: str | None) -> None:
    """After the commit, tell listeners (notifications, cached invoice lists) the payment changed.
    A listener that fails (Redis down) is logged; the committed payment stands."""

    def send() -> None:
        for receiver, outcome in signals.payment_changed.send_robust(
            sender=Payment, payment=payment, previous_status=previous_status
        ):
            if isinstance(outcome, Exception):
                logger.error("payment_changed receiver %r failed: %s", receiver, outcome)

    transaction.on_commit(send)


def _enqueue(task, *args) -> None:
    transaction.on_commit(lambda: task.delay(*args))


# --- customers and payment methods -----------------------------------------------------------


def customer_for(*, organization: Organization, processor: PaymentCollector) -> str:
    """The organization's customer id at the processor, created once (under the organization's
    row lock, so two first payments make one customer)."""
    key = processor.provider.key  # type: ignore[attr-defined]
    found = PaymentCustomer.objects.filter(organization=organization, processor=key).first()
    if found:
        return found.customer_id
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        found = PaymentCustomer.objects.filter(organization=organization, processor=key).first()
        if found:
            return found.customer_id
        email = organization.billing_email or ""
        customer_id = processor.create_customer(
            name=organization.name,
            email=email if "@" in email else "",
            reference=f"organization-{organization.pk}",
            idempotency_key=f"customer-org-{organization.pk}",
        )
        PaymentCustomer.objects.create(organization=organization, processor=key, customer_id=customer_id)
        return customer_id


# Stripe's standard SEPA Direct Debit mandate wording, naming the MSP as the creditor.
SEPA_MANDATE_TEXT = gettext_lazy(
    "By providing your payment information and confirming this mandate, you authorise (A) %(creditor)s "
    "and Stripe, our payment service provider, to send instructions to your bank to debit your account "
    "and (B) your bank to debit your account in accordance with those instructions. As part of your "
    "rights, you are entitled to a refund from your bank under the terms and conditions of your "
    "agreement with your bank. A refund must be claimed within 8 weeks starting from the date on which "
    "your account was debited. Your rights are explained in a statement that you can obtain from your "
    "bank. You agree to receive notifications for future debits up to 2 days before they occur."
)


MANDATE_REQUIRED = gettext_lazy("Accept the SEPA Direct Debit mandate to add a bank account.")


def sepa_mandate_text() -> str:
    return SEPA_MANDATE_TEXT % {"creditor": settings.MSP_NAME}


@dataclass(frozen=True)
class MandateAcceptance:
    """The client accepting a bank debit mandate, as the portal saw it."""

    text: str
    accepted_at: timezone.datetime
    ip_address: str = ""
    user_agent: str = ""


def method_setup_begin(*, organization: Organization, kinds: Sequence[str] = (MethodKind.CARD,)) -> MethodSetup:
    """A setup the client's browser confirms (3-D Secure happens there, with the client)."""
    processor = collector()
    customer_id = customer_for(organization=organization, processor=processor)
    return processor.begin_method_setup(customer_id=customer_id, kinds=tuple(str(k) for k in kinds))


def method_save_from_setup(
    *,
    organization: Organization,
    actor: User | None,
    setup_id: str,
    save: bool = True,
    mandate: MandateAcceptance | None = None,
) -> PaymentMethod:
    """The method a confirmed setup produced, recorded for the organization (once, whatever
    the resubmits). ``save`` False: kept for the payment at hand only, not offered again.
    A bank debit (SEPA) needs the client's ``mandate`` acceptance: it is kept with the method,
    with the processor's record of it where there is one."""
    processor = collector()
    key = processor.provider.key  # type: ignore[attr-defined]
    customer_id = customer_for(organization=organization, processor=processor)
    setup = processor.method_setup(setup_id)
    if setup.customer_id != customer_id:
        raise PaymentRefused(_("That card setup does not belong to your organization."))
    if setup.state != "succeeded" or not setup.method_id:
        raise PaymentRefused(setup.failure_message or _("The card was not confirmed. Please enter it again."))
    existing = PaymentMethod.objects.filter(processor=key, processor_method_id=setup.method_id).first()
    if existing is not None:
        if existing.organization_id != organization.pk:
            raise PaymentRefused(_("That card setup does not belong to your organization."))
        if save and not existing.is_saved:
            existing.is_saved = True
            existing.save(update_fields=["is_saved"])
        return existing
    details = processor.attach_method(method_id=setup.method_id, customer_id=customer_id)
    kind = details.kind if details.kind in MethodKind.values else MethodKind.CARD
    processor_mandate = None
    if kind == MethodKind.SEPA_DEBIT:
        if mandate is None:
            processor.remove_method(details.processor_id)
            raise PaymentRefused(MANDATE_REQUIRED)
        processor_mandate = processor.mandate(setup.mandate_id) if setup.mandate_id else None
    with transaction.atomic():
        has_default = PaymentMethod.objects.filter(
            organization=organization, is_default=True, removed_at__isnull=True
        ).exists()
        try:
            with transaction.atomic():
                method = PaymentMethod.objects.create(
                    organization=organization,
                    processor=key,
                    processor_customer_id=customer_id,
                    processor_method_id=details.processor_id,
                    kind=kind,
                    brand=details.brand,
                    last4=details.last4,
                    exp_month=details.exp_month,
                    exp_year=details.exp_year,
                    funding=details.funding,
                    bank=details.bank[:40],
                    is_saved=save,
                    is_default=save and not has_default,
                    added_by=actor if actor and actor.pk else None,
                )
                if kind == MethodKind.SEPA_DEBIT:
                    _record_mandate(method, mandate, processor_mandate, details, actor)
        except IntegrityError:  # the same setup submitted twice at once
            return PaymentMethod.objects.get(processor=key, processor_method_id=details.processor_id)
    if save:
        audit_record(
            actor=actor,
            action="payment_method.added",
            target=organization.name,
            summary=f"Added {method.label}" + (" (mandate accepted)" if kind == MethodKind.SEPA_DEBIT else ""),
            method_id=method.pk,
        )
    return method


def _record_mandate(
    method: PaymentMethod,
    acceptance: MandateAcceptance,
    processor_mandate: MandateRecord | None,
    details: SavedMethod,
    actor: User | None,
) -> PaymentMandate:
    """The mandate as accepted: the processor's time and address where it recorded them."""
    by_processor = processor_mandate is not None and processor_mandate.accepted_at is not None
    return PaymentMandate.objects.create(
        method=method,
        text=acceptance.text,
        processor_mandate_id=processor_mandate.id if processor_mandate else "",
        reference=((processor_mandate.reference if processor_mandate else "") or details.mandate_reference)[:100],
        accepted_at=processor_mandate.accepted_at if by_processor else acceptance.accepted_at,
        ip_address=((processor_mandate.ip_address if by_processor else "") or acceptance.ip_address)[:64],
        user_agent=((processor_mandate.user_agent if by_processor else "") or acceptance.user_agent)[:500],
        recorded_by_processor=by_processor,
        accepted_by=actor if actor and actor.pk else None,
    )


def method_set_default(*, method: PaymentMethod, actor: User | None) -> PaymentMethod:
    if not method.is_saved or method.removed_at:
        raise PaymentRefused(_("That payment method is no longer available."))
    with transaction.atomic():
        PaymentMethod.objects.filter(organization_id=method.organization_id, is_default=True).exclude(
            pk=method.pk
        ).update(is_default=False)
        PaymentMethod.objects.filter(pk=method.pk).update(is_default=True)
    method.is_default = True
    audit_record(
        actor=actor,
        action="payment_method.default",
        target=method.organization.name,
        summary=f"Made {method.label} the default payment method",
        method_id=method.pk,
    )
    return method


def method_in_use_reason(method: PaymentMethod) -> str | None:
    """Why the method may not be removed now (None: it may)."""
    if Payment.objects.filter(method=method, status__in=[PaymentStatus.PENDING, PaymentStatus.PROCESSING]).exists():
        return _("A payment with this method is still in progress.")
    rules = AutopayRule.objects.filter(method=method, enabled=True)
    if rules.exists():
        count = rules.count()
        return ngettext(
            "%(count)d autopay rule pays with it. Move the rule to another payment method first.",
            "%(count)d autopay rules pay with it. Move the rule to another payment method first.",
            count,
        ) % {"count": count}
    return None


def method_remove(*, method: PaymentMethod, actor: User | None) -> None:
    reason = method_in_use_reason(method)
    if reason:
        raise PaymentRefused(_("%(method)s cannot be removed: %(reason)s") % {"method": method.label, "reason": reason})
    collector().remove_method(method.processor_method_id)
    with transaction.atomic():
        PaymentMethod.objects.filter(pk=method.pk).update(removed_at=timezone.now(), is_default=False)
        if method.is_default:
            successor = selectors.saved_methods(organization_id=method.organization_id).exclude(pk=method.pk).first()
            if successor:
                PaymentMethod.objects.filter(pk=successor.pk).update(is_default=True)
    audit_record(
        actor=actor,
        action="payment_method.removed",
        target=method.organization.name,
        summary=f"Removed {method.label}",
        method_id=method.pk,
    )


# --- paying invoices -------------------------------------------------------------------------


def surcharge_applies(method: PaymentMethod) -> bool:
    """The card surcharge (off by default) is on and ``method`` is a credit card: never a debit
    card, a prepaid card or a bank debit."""
    on = settings.PAYMENTS_CARD_SURCHARGE_PERCENT > 0
    return on and method.kind == MethodKind.CARD and method.funding == "credit"


def surcharge_for(*, method: PaymentMethod, amount: Decimal) -> Decimal:
    """The card surcharge on ``amount``: a percentage, rounded half up to the cent, capped."""
    percent = settings.PAYMENTS_CARD_SURCHARGE_PERCENT
    if not surcharge_applies(method):
        return ZERO
    surcharge = (amount * percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    cap = settings.PAYMENTS_CARD_SURCHARGE_CAP
    return min(surcharge, cap) if cap > 0 else surcharge


def payment_key(*, organization_id: int, invoice_ids: Sequence[int], attempt: str) -> str:
    """One key per organization, invoice set and attempt (a form's token, an autopay slot)."""
    return f"pay-{organization_id}-{_digest(*sorted(invoice_ids))}-{_digest(attempt)[:16]}"


def payment_create(
    *,
    organization: Organization,
    amounts: Sequence[InvoiceAmount],
    method: PaymentMethod,
    initiated_by: str,
    actor: User | None,
    attempt: str,
    shown_surcharge: Decimal | None = None,
) -> Payment:
    """Record a payment of ``amounts`` (committed), then have a worker charge it.

    The same ``attempt`` again (a double click, a resubmitted form) returns the same payment.
    Raises PaymentRefused with the reason when an amount is not allowed (nothing is recorded).
    ``shown_surcharge``: the surcharge the client saw before paying; any other surcharge raises
    SurchargeNotShown (nothing recorded), so what is charged is what was shown."""
    if not amounts:
        raise PaymentRefused(_("Choose at least one invoice to pay."))
    invoice_ids = [a.invoice_id for a in amounts]
    if len(set(invoice_ids)) != len(invoice_ids):
        raise PaymentRefused(_("An invoice is listed twice."))
    if method.organization_id != organization.pk or method.removed_at is not None:
        raise PaymentRefused(_("That payment method is not available."))
    if method.is_expired:
        raise PaymentRefused(_("%(method)s has expired. Choose another payment method.") % {"method": method.label})
    key = payment_key(organization_id=organization.pk, invoice_ids=invoice_ids, attempt=attempt)
    existing = Payment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    processor = collector()
    try:
        with transaction.atomic():
            payment = _record_payment(
                organization=organization,
                amounts=amounts,
                method=method,
                initiated_by=initiated_by,
                actor=actor,
                key=key,
                processor=processor,
                shown_surcharge=shown_surcharge,
            )
    except IntegrityError:
        # The same attempt committed by a concurrent request: that one is the payment.
        existing = Payment.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return existing
    from payments.tasks import charge_payment_task  # why: tasks import this module

    transaction.on_commit(lambda: charge_payment_task.delay(payment.pk))
    return payment


def _record_payment(
    *,
    organization: Organization,
    amounts: Sequence[InvoiceAmount],
    method: PaymentMethod,
    initiated_by: str,
    actor: User | None,
    key: str,
    processor: PaymentCollector,
    shown_surcharge: Decimal | None = None,
) -> Payment:
    """Inside the caller's transaction: lock the invoices, check every amount, insert. The
    payment is in the invoices' currency; invoices in different currencies are paid apart."""
    wanted = {a.invoice_id: a.amount for a in amounts}
    invoices = list(
        Invoice.objects.select_for_update()
        .filter(pk__in=list(wanted), organization=organization, deleted_at__isnull=True)
        .order_by("pk")
    )
    if len(invoices) != len(wanted):
        raise PaymentRefused(_("An invoice you chose is not one of your organization's open invoices."))
    # Another attempt at the same key may have committed while we waited for the locks.
    if Payment.objects.filter(idempotency_key=key).exists():
        raise IntegrityError("payment key taken")
    currencies = selectors.invoice_currencies(invoices)
    if len(currencies) > 1:
        raise PaymentRefused(
            _("These invoices are in different currencies (%(currencies)s): pay those in each currency separately.")
            % {"currencies": ", ".join(currencies)}
        )
    currency = currencies[0]

    def shown(amount: Decimal) -> str:
        return tenant_locale().money(amount, currency)

    states = selectors.unreflected_amounts(invoices)
    minimum = settings.PAYMENTS_MINIMUM_AMOUNT
    for invoice in invoices:
        amount = wanted[invoice.pk]
        state = states[invoice.pk]
        payable = state.payable
        if amount is None or amount <= 0:
            raise PaymentRefused(
                _("Invoice %(number)s: enter an amount greater than zero.") % {"number": invoice.number}
            )
        if payable <= 0:
            if state.processing:
                message = _("Invoice %(number)s has nothing left to pay. A payment is already in progress for it.")
            else:
                message = _("Invoice %(number)s has nothing left to pay.")
            raise PaymentRefused(message % {"number": invoice.number})
        if amount > payable:
            if state.unreflected and not state.limited_by_accounting:
                raise PaymentRefused(
                    _(
                        "Invoice %(number)s: the most you can pay is %(payable)s (balance %(balance)s less "
                        "%(unreflected)s already paid or in progress through the portal)."
                    )
                    % {
                        "number": invoice.number,
                        "payable": shown(payable),
                        "balance": shown(state.balance),
                        "unreflected": shown(state.unreflected),
                    }
                )
            raise PaymentRefused(
                _("Invoice %(number)s: the most you can pay is the balance, %(payable)s.")
                % {"number": invoice.number, "payable": shown(payable)}
            )
        if amount < minimum and amount != payable:
            raise PaymentRefused(
                _("Invoice %(number)s: the smallest payment is %(minimum)s (or the whole balance when it is smaller).")
                % {"number": invoice.number, "minimum": shown(minimum)}
            )
    total_amount = sum(wanted.values(), ZERO)
    surcharge = surcharge_for(method=method, amount=total_amount)
    if shown_surcharge is not None and shown_surcharge != surcharge:
        raise SurchargeNotShown(surcharge=surcharge, amount=total_amount, currency=currency)
    try:
        processor.to_minor_units(total_amount + surcharge, currency)
    except ValueError as exc:
        raise PaymentRefused(
            _("That amount cannot be charged in %(currency)s: %(error)s") % {"currency": currency, "error": exc}
        ) from None
    payment = Payment.objects.create(
        organization=organization,
        method=method,
        amount=total_amount,
        surcharge=surcharge,
        surcharge_percent=settings.PAYMENTS_CARD_SURCHARGE_PERCENT if surcharge else ZERO,
        currency=currency,
        processor=method.processor,
        idempotency_key=key,
        initiated_by=initiated_by,
        initiated_by_user=actor if actor and actor.pk else None,
    )
    PaymentAllocation.objects.bulk_create(
        PaymentAllocation(
            payment=payment, invoice=invoice, amount=wanted[invoice.pk], balance_before=invoice.balance_due
        )
        for invoice in invoices
    )
    _announce(payment, None)
    return payment


def _take_lease(payment_id: int) -> timezone.datetime | None:
    """The payment's charge lease (one worker at a time), or None while another holds it."""
    now = timezone.now()
    until = _lease_until()
    taken = (
        Payment.objects.filter(pk=payment_id, status=PaymentStatus.PENDING, action_required=False)
        .filter(Q(charge_lease_until__isnull=True) | Q(charge_lease_until__lt=now))
        .update(charge_lease_until=until, charge_attempts=F("charge_attempts") + 1)
    )
    return until if taken else None


def _release_lease(payment_id: int, until) -> None:
    Payment.objects.filter(pk=payment_id, charge_lease_until=until).update(charge_lease_until=None)


def payment_charge(*, payment_id: int) -> Payment:
    """Charge a recorded payment: at most one confirmed charge, whatever the retries.

    Raises ChargeBusy while another worker holds it, and transient IntegrationErrors (outcome
    unknown: retry later, the stored id is read back first)."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != PaymentStatus.PENDING or payment.action_required:
        return payment_refresh(payment_id=payment_id) if payment.is_in_flight else payment
    lease = _take_lease(payment_id)
    if lease is None:
        payment.refresh_from_db()
        if payment.status != PaymentStatus.PENDING or payment.action_required:
            return payment
        raise ChargeBusy(f"Payment {payment_id} is being charged by another worker.")
    try:
        processor = collector()
        payment.refresh_from_db()
        if payment.processor_intent_id:
            charge = processor.charge(payment.processor_intent_id)
        else:
            charge = _find_or_create_charge(processor, payment)
            charge = _store_charge_id(processor, payment, charge)
        if charge.state is ChargeState.REQUIRES_CONFIRMATION:
            try:
                charge = processor.confirm_charge(
                    payment.processor_intent_id,
                    idempotency_key=f"{payment.idempotency_key}-confirm",
                    # A bank debit is collected under its mandate, never with the client in the
                    # loop (Stripe's guide charges a saved SEPA method off-session).
                    off_session=payment.initiated_by == Initiator.AUTOPAY
                    or payment.method.kind == MethodKind.SEPA_DEBIT,
                )
            except IntegrationError as exc:
                if exc.transient:
                    raise  # outcome unknown: the retry reads the charge back first
                charge = _refused_confirmation(processor, payment, exc)
        return payment_apply_charge(payment_id=payment_id, charge=charge)
    finally:
        _release_lease(payment_id, lease)


def _refused_confirmation(processor: PaymentCollector, payment: Payment, exc: IntegrationError) -> Charge:
    """The processor refused to confirm (a request it will never accept): cancel the charge, so
    nothing can confirm it later, and fail the payment with the reason. Nothing was charged."""
    current = processor.charge(payment.processor_intent_id)
    if current.state is not ChargeState.REQUIRES_CONFIRMATION:
        return current  # it moved after all: its state is the truth
    with contextlib.suppress(IntegrationError):
        processor.cancel_charge(payment.processor_intent_id, idempotency_key=f"{payment.idempotency_key}-cancel")
    logger.error("Payment %s: the processor refused the confirmation: %s", payment.pk, exc)
    return Charge(
        id=current.id,
        state=ChargeState.FAILED,
        amount_minor=current.amount_minor,
        currency=current.currency,
        failure_code="confirmation_refused",
        failure_message=f"The payment could not be processed ({exc}). Nothing was charged.",
    )


def _expected_minor(processor: PaymentCollector, payment: Payment) -> int:
    return processor.to_minor_units(payment.total, payment.currency)


_PROGRESS = {
    ChargeState.SUCCEEDED: 5,
    ChargeState.PROCESSING: 4,
    ChargeState.REQUIRES_ACTION: 3,
    ChargeState.FAILED: 2,
    ChargeState.REQUIRES_CONFIRMATION: 1,
    ChargeState.CANCELED: 0,
}


def _find_or_create_charge(processor: PaymentCollector, payment: Payment) -> Charge:
    """The charge an earlier attempt of this payment created (its id lost in a crash), else a
    new one, unconfirmed. The first attempt cannot have one: it does not look."""
    amount_minor = _expected_minor(processor, payment)
    if payment.charge_attempts > 1:
        found = [
            c
            for c in processor.charges_with(metadata_key=METADATA_KEY, value=payment.reference)
            if c.state is not ChargeState.CANCELED and c.amount_minor == amount_minor
        ]
        if found:
            found.sort(key=lambda c: _PROGRESS[c.state], reverse=True)
            for stray in found[1:]:
                _cancel_stray(processor, stray, payment)
            return found[0]
    method = payment.method
    invoices = ",".join(str(a.invoice_id) for a in payment.allocations.all())
    return processor.create_charge(
        amount_minor=amount_minor,
        currency=payment.currency,
        customer_id=method.processor_customer_id,
        method_id=method.processor_method_id,
        method_kind=method.kind,
        idempotency_key=f"{payment.idempotency_key}-create",
        metadata={METADATA_KEY: payment.reference, "organization": str(payment.organization_id), "invoices": invoices},
    )


def _cancel_stray(processor: PaymentCollector, charge: Charge, payment: Payment) -> None:
    """An extra unconfirmed charge for the same payment (a gateway that ignored our key): cancel
    it so nobody ever confirms it. One that moved money is left alone and logged."""
    if charge.state is not ChargeState.REQUIRES_CONFIRMATION:
        logger.error("Payment %s has a second charge %s in state %s", payment.pk, charge.id, charge.state)
        return
    try:
        processor.cancel_charge(charge.id, idempotency_key=f"{payment.idempotency_key}-cancel-{charge.id}")
    except IntegrationError:
        logger.warning("Could not cancel the stray charge %s of payment %s", charge.id, payment.pk)


def _store_charge_id(processor: PaymentCollector, payment: Payment, charge: Charge) -> Charge:
    """Store the charge's id, once: if one was stored meanwhile, that one is the payment's."""
    stored = Payment.objects.filter(pk=payment.pk, processor_intent_id="").update(processor_intent_id=charge.id)
    payment.refresh_from_db(fields=["processor_intent_id"])
    if stored or payment.processor_intent_id == charge.id:
        return charge
    _cancel_stray(processor, charge, payment)
    return processor.charge(payment.processor_intent_id)


_STATUS_FOR = {
    ChargeState.REQUIRES_CONFIRMATION: (PaymentStatus.PENDING, False),
    ChargeState.REQUIRES_ACTION: (PaymentStatus.PENDING, True),
    ChargeState.PROCESSING: (PaymentStatus.PROCESSING, False),
    ChargeState.SUCCEEDED: (PaymentStatus.SUCCEEDED, False),
    ChargeState.FAILED: (PaymentStatus.FAILED, False),
    ChargeState.CANCELED: (PaymentStatus.FAILED, False),
}
# Which status may follow which: forward only. A failed payment becomes succeeded only if the
# processor says the money moved after all (the charge is the truth about money).
_MAY_FOLLOW = {
    PaymentStatus.PENDING: {
        PaymentStatus.PENDING,
        PaymentStatus.PROCESSING,
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FAILED,
    },
    PaymentStatus.PROCESSING: {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED},
    PaymentStatus.FAILED: {PaymentStatus.SUCCEEDED},
    PaymentStatus.SUCCEEDED: set(),
    PaymentStatus.REFUNDED: set(),
    PaymentStatus.PARTIALLY_REFUNDED: set(),
}


def payment_apply_charge(*, payment_id: int, charge: Charge) -> Payment:
    """Apply the charge's state as the processor reported it, under the payment's row lock.
    Idempotent, and forward only: the same state again, or an older one read late, changes
    nothing."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.processor_intent_id != charge.id:
            return payment  # not this payment's charge (a stray, already cancelled)
        status, action_required = _STATUS_FOR[charge.state]
        previous = payment.status
        now = timezone.now()
        changed: list[str] = ["last_checked_at"]
        payment.last_checked_at = now
        if status != previous and status not in _MAY_FOLLOW[PaymentStatus(previous)]:
            payment.save(update_fields=changed)
            return payment
        if charge.state is not ChargeState.REQUIRES_CONFIRMATION and payment.confirmed_at is None:
            payment.confirmed_at = now
            changed.append("confirmed_at")
        if payment.action_required != action_required:
            payment.action_required = action_required
            changed.append("action_required")
        if status != previous:
            payment.status = status
            changed.append("status")
            if status == PaymentStatus.SUCCEEDED:
                payment.succeeded_at = now
                payment.failure_code = payment.failure_reason = ""
                changed += ["succeeded_at", "failure_code", "failure_reason"]
            elif status == PaymentStatus.FAILED:
                payment.failed_at = now
                payment.failure_code = charge.failure_code[:100]
                payment.failure_reason = (
                    charge.failure_message or "The payment was cancelled before anything was charged."
                )[:500]
                changed += ["failed_at", "failure_code", "failure_reason"]
        payment.save(update_fields=changed)
        if status != previous or "action_required" in changed:
            _announce(payment, previous)
    return payment


def payment_refresh(*, payment_id: int) -> Payment:
    """Re-read the payment's charge and apply its state (the client's page after 3-D Secure,
    webhooks, the nightly settle). A payment with no stored charge yet is left to its charge task."""
    payment = Payment.objects.get(pk=payment_id)
    if not payment.processor_intent_id or not payment.is_in_flight:
        return payment
    return payment_apply_charge(payment_id=payment_id, charge=collector().charge(payment.processor_intent_id))


def payment_authentication_secret(*, payment: Payment) -> str:
    """The client secret the browser needs to let the cardholder authenticate (3-D Secure).
    Only ever given to the payment's own organization (callers check)."""
    if not (payment.action_required and payment.processor_intent_id and payment.status == PaymentStatus.PENDING):
        return ""
    return collector().charge(payment.processor_intent_id).client_secret


def payment_give_up(*, payment_id: int, reason: str) -> Payment:
    """Cancel a payment waiting for authentication that never came (nothing was charged)."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != PaymentStatus.PENDING or not payment.processor_intent_id:
        return payment
    processor = collector()
    current = processor.charge(payment.processor_intent_id)
    if current.state in (ChargeState.REQUIRES_ACTION, ChargeState.FAILED, ChargeState.REQUIRES_CONFIRMATION):
        try:
            current = processor.cancel_charge(
                payment.processor_intent_id, idempotency_key=f"{payment.idempotency_key}-give-up"
            )
        except IntegrationError:
            current = processor.charge(payment.processor_intent_id)
    if current.state is ChargeState.CANCELED:
        current = Charge(
            id=current.id,
            state=ChargeState.FAILED,
            amount_minor=current.amount_minor,
            currency=current.currency,
            failure_message=reason,
        )
    return payment_apply_charge(payment_id=payment_id, charge=current)


# --- refunds ---------------------------------------------------------------------------------


def refund_create(*, payment_id: int, amount: Decimal, reason: str, actor: User, request_token: str) -> Refund:
    """Refund ``amount`` of a succeeded payment, once per request (``request_token``, a form's
    token): the row and the refundable check are committed before Stripe is asked."""
    reason = (reason or "").strip()
    if not reason:
        raise PaymentRefused(_("Give a reason for the refund."))
    key = f"refund-{payment_id}-{_digest(request_token)[:24]}"
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(pk=payment_id)
            if amount is None or amount <= 0:
                raise PaymentRefused(_("Enter an amount greater than zero."))
            taken = payment.refunds.exclude(status=RefundStatus.FAILED).aggregate(total=Sum("amount"))["total"] or ZERO
            if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
                raise PaymentRefused(
                    _("Only a succeeded payment can be refunded; this one is %(status)s.")
                    % {"status": payment.get_status_display()}
                )
            refundable = payment.total - taken
            if amount > refundable:
                raise PaymentRefused(
                    _("At most %(amount)s of this payment can be refunded.")
                    % {"amount": tenant_locale().money(refundable, payment.currency)}
                )
            refund = Refund.objects.create(
                payment=payment, amount=amount, reason=reason[:500], idempotency_key=key, requested_by=actor
            )
    except IntegrityError:
        existing = Refund.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return existing
    audit_record(
        actor=actor,
        action="payment.refund_requested",
        target=f"Payment {payment_id}",
        summary=f"Refund of {amount:,.2f} {payment.currency} requested: {reason[:200]}",
        payment_id=payment_id,
        refund_id=refund.pk,
        amount=str(amount),
        currency=payment.currency,
        reason=reason[:200],
    )
    refund = refund_send(refund_id=refund.pk)
    audit_record(
        actor=actor,
        action="payment.refund_sent",
        target=f"Payment {payment_id}",
        summary=f"Refund {refund.pk}: {refund.get_status_display()}",
        payment_id=payment_id,
        refund_id=refund.pk,
        status=refund.status,
        processor_refund_id=refund.processor_refund_id,
    )
    return refund


def refund_send(*, refund_id: int) -> Refund:
    """Ask the processor for the refund, one sender at a time. A retry after a lost answer first
    checks what the processor says was refunded, so a processor that ignores idempotency keys
    does not refund twice."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != RefundStatus.REQUESTED:
        return refund
    now = timezone.now()
    until = _lease_until()
    taken = (
        Refund.objects.filter(pk=refund_id, status=RefundStatus.REQUESTED)
        .filter(Q(send_lease_until__isnull=True) | Q(send_lease_until__lt=now))
        .update(send_lease_until=until, send_attempts=F("send_attempts") + 1)
    )
    if not taken:
        refund.refresh_from_db()
        return refund
    refund.refresh_from_db()
    payment = refund.payment
    try:
        processor = collector()
        amount_minor = processor.to_minor_units(refund.amount, payment.currency)
        if refund.send_attempts > 1:
            done = _refund_already_done(processor, refund, amount_minor)
            if done:
                return _refund_apply(refund_id=refund_id, outcome=done)
        try:
            outcome = processor.refund(
                charge_id=payment.processor_intent_id,
                amount_minor=amount_minor,
                currency=payment.currency,
                idempotency_key=refund.idempotency_key,
                metadata={"portal_refund": f"refund-{refund.pk}", METADATA_KEY: payment.reference},
            )
        except IntegrationError as exc:
            if exc.transient:
                raise
            outcome = RefundOutcome(id="", state="failed", amount_minor=amount_minor, failure_reason=str(exc))
        return _refund_apply(refund_id=refund_id, outcome=outcome)
    finally:
        Refund.objects.filter(pk=refund_id, send_lease_until=until).update(send_lease_until=None)


def _refund_already_done(processor: PaymentCollector, refund: Refund, amount_minor: int) -> RefundOutcome | None:
    """The processor's refunded total covers this refund too: an earlier send went through."""
    charge = processor.charge(refund.payment.processor_intent_id)
    if charge.refunded_minor is None:
        return None  # it does not say: the idempotency key is what is left
    recorded = (
        refund.payment.refunds.exclude(pk=refund.pk)
        .filter(status__in=[RefundStatus.SUCCEEDED, RefundStatus.PENDING])
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    if charge.refunded_minor >= processor.to_minor_units(recorded, refund.payment.currency) + amount_minor:
        return RefundOutcome(id="", state="succeeded", amount_minor=amount_minor)
    return None


_REFUND_STATUS = {
    "succeeded": RefundStatus.SUCCEEDED,
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}


def _refund_apply(*, refund_id: int, outcome: RefundOutcome) -> Refund:
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        status = _REFUND_STATUS.get(outcome.state, RefundStatus.PENDING)
        if refund.status in (RefundStatus.SUCCEEDED, RefundStatus.FAILED) and status != refund.status:
            return refund  # settled: an older read changes nothing
        refund.status = status
        if outcome.id:
            refund.processor_refund_id = outcome.id
        refund.failure_reason = outcome.failure_reason[:500] if status == RefundStatus.FAILED else ""
        if status in (RefundStatus.SUCCEEDED, RefundStatus.FAILED):
            refund.completed_at = refund.completed_at or timezone.now()
        refund.save()
        refunded = (
            payment.refunds.filter(status__in=[RefundStatus.SUCCEEDED, RefundStatus.PENDING]).aggregate(
                total=Sum("amount")
            )["total"]
            or ZERO
        )
        previous = payment.status
        payment.refunded_amount = refunded
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED):
            if refunded >= payment.total:
                payment.status = PaymentStatus.REFUNDED
            elif refunded > 0:
                payment.status = PaymentStatus.PARTIALLY_REFUNDED
        payment.save(update_fields=["refunded_amount", "status"])
        if payment.status != previous:
            _announce(payment, previous)
    return refund


def refund_refresh(*, refund_id: int) -> Refund:
    refund = Refund.objects.get(pk=refund_id)
    if refund.status == RefundStatus.REQUESTED:
        return refund_send(refund_id=refund_id)
    if refund.status == RefundStatus.PENDING and refund.processor_refund_id:
        return _refund_apply(refund_id=refund_id, outcome=collector().refund_state(refund.processor_refund_id))
    return refund


# --- processor events (webhooks) -------------------------------------------------------------


def processor_event_receive(*, payload: bytes, signature: str | None) -> tuple[ProcessorNotice, bool]:
    """Verify a webhook delivery on its raw body and store its event once. Returns the notice
    and whether it was new (a new one is processed by a worker after the commit). Raises
    WebhookRejected (integrations.capabilities) when it does not verify."""
    processor = collector()
    notice = processor.parse_webhook(payload, signature)
    if notice.type == WEBHOOK_TEST_NOTICE_TYPE:
        return notice, False
    return notice, processor_event_record(notice=notice, processor=processor.provider.key)  # type: ignore[attr-defined]


def processor_event_record(*, notice: ProcessorNotice, processor: str) -> bool:
    """Store the event once (unique event id); True when it is new."""
    from payments.tasks import process_event_task  # why: tasks import this module

    try:
        with transaction.atomic():
            event = ProcessorEvent.objects.create(
                processor=processor,
                event_id=notice.id,
                type=notice.type,
                object_id=notice.object_id or "",
                payload=notice.payload,
            )
            _enqueue(process_event_task, event.pk)
    except IntegrityError:
        return False
    return True


def processor_event_process(*, event_pk: int) -> ProcessorEvent:
    """Act on a stored event by re-reading the object's current state (never the event's copy
    of it): duplicates and any order change the payment once."""
    event = ProcessorEvent.objects.get(pk=event_pk)
    if event.processed_at is not None:
        return event
    outcome = "ignored"
    payment = None
    if event.type.startswith("payment_intent.") and event.object_id:
        payment, outcome = _event_payment_intent(event.object_id)
    elif event.type.startswith(("charge.refund", "refund.")) or event.type == "charge.refunded":
        payment, outcome = _event_refund(event)
    ProcessorEvent.objects.filter(pk=event.pk, processed_at__isnull=True).update(
        processed_at=timezone.now(), outcome=outcome[:300], payment=payment
    )
    event.refresh_from_db()
    return event


def _event_payment_intent(charge_id: str) -> tuple[Payment | None, str]:
    payment = Payment.objects.filter(processor_intent_id=charge_id).first()
    processor = collector()
    charge = processor.charge(charge_id)
    if payment is None:
        reference = charge.metadata.get(METADATA_KEY, "")
        payment_pk = reference.removeprefix("payment-")
        payment = Payment.objects.filter(pk=int(payment_pk)).first() if payment_pk.isdigit() else None
        if payment is None:
            return None, "no payment of ours"
        if not payment.processor_intent_id:
            # Created by an attempt that crashed before storing it: it is this payment's.
            Payment.objects.filter(pk=payment.pk, processor_intent_id="").update(processor_intent_id=charge.id)
            payment.refresh_from_db()
    if payment.processor_intent_id != charge.id:
        return payment, "a stray charge of this payment; not applied"
    before = payment.status
    payment = payment_apply_charge(payment_id=payment.pk, charge=charge)
    return payment, f"{before} -> {payment.status}" if payment.status != before else f"unchanged ({before})"


def _event_refund(event: ProcessorEvent) -> tuple[Payment | None, str]:
    obj = (event.payload.get("data") or {}).get("object") or {}
    intent_id = obj.get("payment_intent")
    intent_id = intent_id.get("id") if isinstance(intent_id, dict) else intent_id
    payment = Payment.objects.filter(processor_intent_id=intent_id).first() if intent_id else None
    if payment is None:
        return None, "no payment of ours"
    for refund in payment.refunds.filter(status__in=[RefundStatus.REQUESTED, RefundStatus.PENDING]):
        refund_refresh(refund_id=refund.pk)
    return payment, "refunds re-read"


# --- the nightly settle ----------------------------------------------------------------------


def payments_settle_unsettled() -> dict[str, int]:
    """Re-read what the portal has not settled: payments still in flight (their webhook may be
    lost), refunds without an answer, stored events never processed, and events the processor
    sent that never arrived. Payments waiting for authentication give up after a day."""
    from payments.tasks import charge_payment_task, process_event_task  # why: tasks import this module

    counts = {"payments": 0, "refunds": 0, "events": 0, "fetched_events": 0, "gave_up": 0}
    now = timezone.now()
    older = now - timedelta(minutes=settings.PAYMENTS_SETTLE_AFTER_MINUTES)
    for payment in Payment.objects.filter(
        status__in=[PaymentStatus.PENDING, PaymentStatus.PROCESSING], created_at__lt=older
    ):
        try:
            if payment.action_required and payment.created_at < now - timedelta(hours=24):
                payment_give_up(
                    payment_id=payment.pk, reason="The card was not authenticated in time; nothing was charged."
                )
                counts["gave_up"] += 1
            elif payment.processor_intent_id:
                payment_refresh(payment_id=payment.pk)
            else:
                charge_payment_task.delay(payment.pk)
            counts["payments"] += 1
        except IntegrationError as exc:
            logger.warning("Settling payment %s failed: %s", payment.pk, exc)
    for refund in Refund.objects.filter(
        status__in=[RefundStatus.REQUESTED, RefundStatus.PENDING], created_at__lt=older
    ):
        try:
            refund_refresh(refund_id=refund.pk)
            counts["refunds"] += 1
        except IntegrationError as exc:
            logger.warning("Settling refund %s failed: %s", refund.pk, exc)
    for event_pk in ProcessorEvent.objects.filter(processed_at__isnull=True, received_at__lt=older).values_list(
        "pk", flat=True
    ):
        process_event_task.delay(event_pk)
        counts["events"] += 1
    try:
        processor = collector()
        key = processor.provider.key  # type: ignore[attr-defined]
        for notice in processor.recent_notices(since=now - timedelta(days=3)):
            if notice.type.startswith("payment_intent.") and processor_event_record(notice=notice, processor=key):
                counts["fetched_events"] += 1
    except IntegrationError as exc:
        logger.warning("Reading recent processor events failed: %s", exc)
    return counts
