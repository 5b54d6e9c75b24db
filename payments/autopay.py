"""Autopay: the daily evaluation of organizations' rules (services, HackSoft style).

Invariants:
- An invoice is scheduled by the first active rule (by position) it matches, once per slot:
  ``ScheduledCharge`` is unique per (invoice, slot), so two evaluations at once schedule it once.
- A scheduled charge becomes a payment only through ``services.payment_create`` (invoices
  locked, the payable amount checked), with a key made from the charge row and its attempt
  number: a run repeated, or two runs at once, make one payment per attempt, and a client who
  paid first leaves nothing for autopay to take.
- A rule whose method was removed or has expired, or whose contract has ended, shows the error
  and charges nothing. Failed charges are retried after ``PAYMENTS_AUTOPAY_RETRY_DAYS``; after the
  last the rule pauses.
"""

from __future__ import annotations

import calendar
import logging
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from billing.models import Invoice
from integrations.base import IntegrationError
from payments import selectors, services
from payments.models import (
    AutopayRule,
    AutopayTiming,
    Initiator,
    PaymentStatus,
    ScheduledCharge,
    ScheduledChargeStatus,
)

logger = logging.getLogger(__name__)


def retry_days() -> tuple[int, ...]:
    return tuple(settings.PAYMENTS_AUTOPAY_RETRY_DAYS)


def rule_problem(rule: AutopayRule, *, today: date) -> str:
    """Why the rule cannot charge now ("" when it can)."""
    method = rule.method
    if method.removed_at is not None:
        return f"Its payment method ({method.label}) was removed."
    if method.is_expired:
        return f"Its payment method ({method.label}) has expired."
    contract = rule.contract
    if contract is not None and contract.end_date is not None and contract.end_date.date() < today:
        return f"Its contract {contract.name} ended on {contract.end_date:%Y-%m-%d}."
    return ""


def slot_for(rule: AutopayRule, invoice: Invoice) -> date | None:
    """The day the rule charges the invoice (None: the invoice lacks the date it needs)."""
    if rule.timing == AutopayTiming.DAYS_BEFORE_DUE:
        return invoice.due_date.date() - timedelta(days=rule.days) if invoice.due_date else None
    if rule.timing == AutopayTiming.DAYS_AFTER_DUE:
        return invoice.due_date.date() + timedelta(days=rule.days) if invoice.due_date else None
    if rule.timing == AutopayTiming.DAYS_AFTER_INVOICE:
        return invoice.invoice_date.date() + timedelta(days=rule.days) if invoice.invoice_date else None
    if rule.timing == AutopayTiming.DAY_OF_MONTH:
        if not invoice.invoice_date:
            return None
        start = invoice.invoice_date.date()
        year, month = start.year, start.month
        for _ in range(2):
            day = min(rule.days or 1, calendar.monthrange(year, month)[1])
            candidate = date(year, month, day)
            if candidate >= start:
                return candidate
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def rule_matches(rule: AutopayRule, invoice: Invoice) -> bool:
    if rule.max_amount is not None and invoice.balance_due > rule.max_amount:
        return False
    return not (rule.invoice_status and invoice.status != rule.invoice_status)


def autopay_evaluate(*, today: date | None = None) -> dict[str, int]:
    """The daily run: settle yesterday's attempts, refresh rule errors, schedule newly due
    invoices, and charge what is due today. Safe to run twice, and twice at once."""
    today = today or timezone.localdate()
    counts = {"followed": 0, "scheduled": 0, "awaiting_approval": 0, "charged": 0, "skipped": 0}
    counts["followed"] = _follow_attempts(today=today)
    rules = list(AutopayRule.objects.filter(enabled=True, paused_at__isnull=True).select_related("method", "contract"))
    by_organization: dict[int, list[AutopayRule]] = {}
    for rule in rules:
        problem = rule_problem(rule, today=today)
        if problem != rule.error:
            AutopayRule.objects.filter(pk=rule.pk).update(error=problem)
            rule.error = problem
        if not problem:
            by_organization.setdefault(rule.organization_id, []).append(rule)
    for organization_id, org_rules in by_organization.items():
        org_rules.sort(key=lambda r: (r.position, r.pk))
        taken = set(
            ScheduledCharge.objects.filter(organization_id=organization_id)
            .exclude(status__in=[ScheduledChargeStatus.SKIPPED, ScheduledChargeStatus.FAILED])
            .values_list("invoice_id", flat=True)
        )
        invoices = [i for i in selectors.payable_invoices(organization_id=organization_id) if i.pk not in taken]
        states = selectors.unreflected_amounts(invoices)
        for invoice in invoices:
            if states[invoice.pk].payable <= 0:
                continue  # paid through the portal already (or in progress): nothing for autopay
            rule = next((r for r in org_rules if rule_matches(r, invoice)), None)
            slot = slot_for(rule, invoice) if rule else None
            if slot is None or slot > today:
                continue
            status = (
                ScheduledChargeStatus.AWAITING_APPROVAL if rule.requires_approval else ScheduledChargeStatus.SCHEDULED
            )
            try:
                with transaction.atomic():
                    ScheduledCharge.objects.create(
                        rule=rule,
                        organization_id=organization_id,
                        invoice=invoice,
                        slot=slot,
                        charge_on=max(slot, today),
                        status=status,
                    )
            except IntegrityError:
                continue  # another run scheduled this slot
            counts["awaiting_approval" if rule.requires_approval else "scheduled"] += 1
    for charge in ScheduledCharge.objects.filter(
        charge_on__lte=today, status__in=[ScheduledChargeStatus.SCHEDULED, ScheduledChargeStatus.APPROVED]
    ).select_related("rule", "rule__method", "organization"):
        outcome = scheduled_charge_run(charge_id=charge.pk)
        if outcome is not None:
            counts["charged" if outcome.status == ScheduledChargeStatus.CHARGING else "skipped"] += 1
    return counts


def scheduled_charge_run(*, charge_id: int) -> ScheduledCharge | None:
    """Turn a due scheduled charge into a payment (claimed by one run: a conditional update)."""
    claimed = ScheduledCharge.objects.filter(
        pk=charge_id, status__in=[ScheduledChargeStatus.SCHEDULED, ScheduledChargeStatus.APPROVED]
    ).update(status=ScheduledChargeStatus.CHARGING)
    if not claimed:
        return None
    charge = ScheduledCharge.objects.select_related("rule", "rule__method", "organization", "invoice").get(pk=charge_id)
    rule = charge.rule
    problem = rule_problem(rule, today=timezone.localdate()) if rule else "Its rule was deleted."
    payable = selectors.invoice_payment_state(charge.invoice).payable
    if problem or payable <= 0 or (rule and not rule.is_active and not problem):
        note = problem or ("Nothing left to pay." if payable <= 0 else "The rule is paused or disabled.")
        ScheduledCharge.objects.filter(pk=charge.pk).update(status=ScheduledChargeStatus.SKIPPED, note=note[:500])
        charge.status = ScheduledChargeStatus.SKIPPED
        return charge
    attempt = charge.attempts + 1
    try:
        payment = services.payment_create(
            organization=charge.organization,
            amounts=[services.InvoiceAmount(charge.invoice_id, payable)],
            method=rule.method,
            initiated_by=Initiator.AUTOPAY,
            actor=None,
            attempt=f"autopay-{charge.pk}-{attempt}",
        )
    except services.PaymentRefused as exc:
        ScheduledCharge.objects.filter(pk=charge.pk).update(status=ScheduledChargeStatus.SKIPPED, note=str(exc)[:500])
        charge.status = ScheduledChargeStatus.SKIPPED
        return charge
    except (IntegrationError, services.PaymentsUnavailable) as exc:
        ScheduledCharge.objects.filter(pk=charge.pk).update(status=ScheduledChargeStatus.SCHEDULED, note=str(exc)[:500])
        logger.warning("Autopay of invoice %s postponed: %s", charge.invoice_id, exc)
        return None
    ScheduledCharge.objects.filter(pk=charge.pk).update(payment=payment, attempts=attempt, note="")
    charge.payment, charge.attempts = payment, attempt
    return charge


def _follow_attempts(*, today: date) -> int:
    """Charges whose payment has settled: charged, or retried later, or failed for good (and
    the rule paused)."""
    followed = 0
    delays = retry_days()
    for charge in ScheduledCharge.objects.filter(
        status=ScheduledChargeStatus.CHARGING, payment__isnull=False
    ).select_related("payment", "rule"):
        status = charge.payment.status
        if status in (PaymentStatus.PENDING, PaymentStatus.PROCESSING) and not charge.payment.action_required:
            continue
        followed += 1
        if charge.payment.action_required:
            # Autopay cannot authenticate for the cardholder: give the charge up (nothing moved).
            try:
                payment = services.payment_give_up(
                    payment_id=charge.payment_id,
                    reason="The card issuer asks the cardholder to authenticate, which autopay cannot do.",
                )
            except (IntegrationError, services.PaymentsUnavailable) as exc:
                logger.warning("Autopay charge %s: could not give up payment %s: %s", charge.pk, charge.payment_id, exc)
                continue
            status = payment.status
            charge.payment = payment
        if status not in (PaymentStatus.FAILED, PaymentStatus.PENDING):
            ScheduledCharge.objects.filter(pk=charge.pk).update(status=ScheduledChargeStatus.CHARGED)
            continue
        reason = charge.payment.failure_reason or "The card needs the cardholder to authenticate."
        if charge.attempts <= len(delays):
            ScheduledCharge.objects.filter(pk=charge.pk).update(
                status=ScheduledChargeStatus.SCHEDULED,
                charge_on=today + timedelta(days=delays[charge.attempts - 1]),
                note=f"Attempt {charge.attempts} failed: {reason}"[:500],
            )
            continue
        ScheduledCharge.objects.filter(pk=charge.pk).update(status=ScheduledChargeStatus.FAILED, note=reason[:500])
        if charge.rule_id:
            AutopayRule.objects.filter(pk=charge.rule_id).update(
                paused_at=timezone.now(),
                pause_reason=f"Paused after {charge.attempts} failed attempts: {reason}"[:500],
            )
    return followed


def scheduled_charge_decide(
    *, charge: ScheduledCharge, actor: User, decision: str, charge_on: date | None = None
) -> ScheduledCharge:
    """Autopay approvals: approve, skip, or reschedule a charge awaiting approval."""
    if charge.status not in (ScheduledChargeStatus.AWAITING_APPROVAL, ScheduledChargeStatus.SCHEDULED):
        raise services.PaymentRefused(f"This charge is {charge.get_status_display().lower()} already.")
    if decision == "approve":
        charge.status = ScheduledChargeStatus.APPROVED
    elif decision == "skip":
        charge.status = ScheduledChargeStatus.SKIPPED
    elif decision == "reschedule" and charge_on is not None:
        charge.charge_on = charge_on
    else:
        raise services.PaymentRefused("Choose approve, skip, or a new date.")
    charge.decided_by = actor
    charge.save(update_fields=["status", "charge_on", "decided_by"])
    audit_record(
        actor=actor,
        action=f"autopay.{decision}",
        target=charge.organization.name,
        summary=f"Autopay of invoice {charge.invoice.number}: {decision}" + (f" to {charge_on}" if charge_on else ""),
        scheduled_charge_id=charge.pk,
    )
    return charge
