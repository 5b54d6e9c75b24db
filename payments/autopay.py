"""Autopay: the daily evaluation of organizations' rules (services, HackSoft style).

Invariants:
- An invoice is scheduled by the first active rule (by position) it matches, once per slot:
  ``ScheduledCharge`` is unique per (invoice, slot), so two evaluations at once schedule it once.
- A scheduled charge becomes a payment only through ``services.payment_create`` (invoices
  locked, the payable amount checked), with a key made from the charge row and its attempt
  number: a run repeated, or two runs at once, make one payment per attempt, and a client who
  paid first leaves nothing for autopay to take.
- Rule changes (create, update, move, delete) and approval decisions are audited; a client
  never changes a rule the MSP locked, nor locks one or makes it wait for approval.
- A rule whose method was removed or has expired, or whose contract has ended, shows the error
  and charges nothing. Failed charges are retried after ``PAYMENTS_AUTOPAY_RETRY_DAYS``; after the
  last the rule pauses.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from integrations.base import IntegrationError
from organizations.models import Contract, Organization
from payments import selectors, services, signals
from payments.models import (
    AutopayRule,
    AutopayTiming,
    Initiator,
    PaymentMethod,
    PaymentStatus,
    ScheduledCharge,
    ScheduledChargeStatus,
)

# The rule's pure reads live in selectors (the pages evaluate them too); named here as before.
from payments.selectors import rule_matches, rule_problem, slot_for

logger = logging.getLogger(__name__)


def retry_days() -> tuple[int, ...]:
    return tuple(settings.PAYMENTS_AUTOPAY_RETRY_DAYS)


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
    due = ScheduledCharge.objects.filter(
        charge_on__lte=today, status__in=[ScheduledChargeStatus.SCHEDULED, ScheduledChargeStatus.APPROVED]
    ).values_list("pk", flat=True)
    for charge_id in due:  # each is loaded, locked and charged by scheduled_charge_run
        outcome = scheduled_charge_run(charge_id=charge_id)
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
            _announce(charge.organization_id)
    return followed


def scheduled_charge_decide(
    *, charge: ScheduledCharge, actor: User, decision: str, charge_on: date | None = None
) -> ScheduledCharge:
    """Autopay approvals: approve, skip, or reschedule a charge awaiting approval (or scheduled).

    Exactly once: the decision is a conditional update of the row, so a second click (or two
    staff at once) finds it decided and is refused; rescheduling to the day it already has
    changes nothing either. Audited."""
    open_statuses = [ScheduledChargeStatus.AWAITING_APPROVAL, ScheduledChargeStatus.SCHEDULED]
    pending = ScheduledCharge.objects.filter(pk=charge.pk, status__in=open_statuses)
    if decision == "approve":
        changes = {"status": ScheduledChargeStatus.APPROVED}
    elif decision == "skip":
        changes = {"status": ScheduledChargeStatus.SKIPPED, "note": f"Skipped by {actor.email}."[:500]}
    elif decision == "reschedule" and charge_on is not None:
        if charge_on < timezone.localdate():
            raise services.PaymentRefused(_("Choose today or a later day."))
        changes = {"charge_on": charge_on}
        pending = pending.exclude(charge_on=charge_on)
    else:
        raise services.PaymentRefused(_("Choose approve, skip, or a new date."))
    if not pending.update(decided_by=actor, **changes):
        charge.refresh_from_db()
        if decision == "reschedule" and charge.status in open_statuses:
            raise services.PaymentRefused(
                _("This charge is set for %(date)s already.") % {"date": f"{charge.charge_on:%Y-%m-%d}"}
            )
        raise services.PaymentRefused(
            _("This charge is %(status)s already.") % {"status": charge.get_status_display().lower()}
        )
    charge.refresh_from_db()
    audit_record(
        actor=actor,
        action=f"autopay.{decision}",
        target=charge.organization.name,
        summary=f"Autopay of invoice {charge.invoice.number}: {decision}" + (f" to {charge_on}" if charge_on else ""),
        scheduled_charge_id=charge.pk,
    )
    return charge


# --- rules (Organizations > an organization > Autopay, and the client's Autopay page) --------

# What a client may not set: the MSP's controls.
STAFF_ONLY_FIELDS = ("locked", "requires_approval")
RULE_FIELDS = ("method", "timing", "days", "contract", "max_amount", "invoice_status", "enabled", *STAFF_ONLY_FIELDS)


def _rule_refused_for_client(rule: AutopayRule, *, by_client: bool) -> None:
    if by_client and rule.locked:
        raise services.PaymentRefused(_("This rule is locked by your service provider; ask them to change it."))


def _rule_check(*, organization_id: int, fields: dict) -> None:
    method = fields.get("method")
    if method is not None and (
        method.organization_id != organization_id or not method.is_saved or method.removed_at is not None
    ):
        raise services.PaymentRefused(_("Choose one of the organization's saved payment methods."))
    contract = fields.get("contract")
    if contract is not None and contract.organization_id != organization_id:
        raise services.PaymentRefused(_("Choose one of the organization's contracts."))
    timing, days = fields.get("timing"), fields.get("days")
    if timing == AutopayTiming.DAY_OF_MONTH and not (days and 1 <= days <= 31):
        raise services.PaymentRefused(_("A day of the month is between 1 and 31."))
    if timing is not None and days is not None and not 0 <= days <= 365:
        raise services.PaymentRefused(_("Enter a number of days between 0 and 365."))
    max_amount = fields.get("max_amount")
    if max_amount is not None and max_amount <= 0:
        raise services.PaymentRefused(_("The largest amount must be more than 0."))


def _describe(rule: AutopayRule) -> str:
    return f"{rule.method.label}, {selectors.rule_when(rule)}"


def _announce(organization_id: int) -> None:
    """After the commit: the client's invoice lists say which rule pays each invoice."""

    def send():
        for receiver, outcome in signals.autopay_changed.send_robust(
            sender=AutopayRule, organization_id=organization_id
        ):
            if isinstance(outcome, Exception):
                logger.error("autopay_changed receiver %r failed: %s", receiver, outcome)

    transaction.on_commit(send)


def _rule_audit(*, rule: AutopayRule, actor: User | None, action: str, summary: str, **details) -> None:
    _announce(rule.organization_id)
    audit_record(
        actor=actor,
        action=f"autopay.rule_{action}",
        target=rule.organization.name,
        summary=summary,
        rule_id=rule.pk,
        organization_id=rule.organization_id,
        **details,
    )


def rule_create(
    *,
    organization: Organization,
    actor: User | None,
    by_client: bool,
    method: PaymentMethod,
    timing: str,
    days: int,
    contract: Contract | None = None,
    max_amount: Decimal | None = None,
    invoice_status: str = "",
    enabled: bool = True,
    locked: bool = False,
    requires_approval: bool = False,
) -> AutopayRule:
    """A new rule, last in the organization's order. A client's rule is never locked nor
    waits for approval (those are the MSP's to set)."""
    if by_client:
        locked = requires_approval = False
    fields = {
        "method": method,
        "timing": timing,
        "days": days,
        "contract": contract,
        "max_amount": max_amount,
        "invoice_status": invoice_status or "",
        "enabled": enabled,
        "locked": locked,
        "requires_approval": requires_approval,
    }
    _rule_check(organization_id=organization.pk, fields=fields)
    with transaction.atomic():
        last = (
            AutopayRule.objects.select_for_update()
            .filter(organization=organization)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        rule = AutopayRule(organization=organization, position=(last + 1) if last is not None else 0, **fields)
        rule.created_by = actor if actor and actor.pk else None
        rule.error = rule_problem(rule, today=timezone.localdate())
        rule.save()
        _rule_audit(
            rule=rule,
            actor=actor,
            action="create",
            summary=f"Autopay rule added: {_describe(rule)}",
            by_client=by_client,
        )
    return rule


def _rule_for_change(rule: AutopayRule) -> AutopayRule:
    """The rule as it is now, its row locked until the commit: whether it is locked by the MSP
    is read under the lock, so a client's change never races the MSP locking it."""
    current = (
        AutopayRule.objects.select_for_update(of=("self",))  # the joined rows are not locked (nullable joins)
        .select_related("organization", "method", "contract")
        .filter(pk=rule.pk)
        .first()
    )
    if current is None:
        raise services.PaymentRefused(_("This rule was deleted."))
    return current


def rule_update(*, rule: AutopayRule, actor: User | None, by_client: bool, **fields) -> AutopayRule:
    """Change a rule. A client may not change a locked rule, nor lock or require approval.
    Saving a rule paused after failed charges resumes it (whoever saves has seen why)."""
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"Not a rule field: {', '.join(sorted(unknown))}")
    if by_client:
        for name in STAFF_ONLY_FIELDS:
            fields.pop(name, None)
    if "invoice_status" in fields:
        fields["invoice_status"] = fields["invoice_status"] or ""
    with transaction.atomic():
        rule = _rule_for_change(rule)
        _rule_refused_for_client(rule, by_client=by_client)
        merged = {name: getattr(rule, name) for name in ("method", "timing", "days", "contract", "max_amount")}
        merged.update(fields)
        _rule_check(organization_id=rule.organization_id, fields=merged)
        changed = {}
        for name, value in fields.items():
            before = getattr(rule, name)
            if before != value:
                changed[name] = [str(before) if before is not None else "", str(value) if value is not None else ""]
                setattr(rule, name, value)
        resumed = rule.paused_at is not None
        if not changed and not resumed:
            return rule
        rule.paused_at, rule.pause_reason = None, ""
        rule.error = rule_problem(rule, today=timezone.localdate())
        rule.save()
        _rule_audit(
            rule=rule,
            actor=actor,
            action="update",
            summary=f"Autopay rule changed: {_describe(rule)}" + (" (resumed)" if resumed else ""),
            changed=changed,
            by_client=by_client,
        )
    return rule


def rule_move(*, rule: AutopayRule, actor: User | None, by_client: bool, direction: str) -> AutopayRule:
    """Swap the rule with its neighbour above ("up") or below ("down"). A client moves neither
    a locked rule nor another rule past one (a locked rule keeps its place)."""
    if direction not in ("up", "down"):
        raise services.PaymentRefused(_("Move a rule up or down."))
    with transaction.atomic():
        ordered = list(
            AutopayRule.objects.select_for_update()
            .filter(organization_id=rule.organization_id)
            .order_by("position", "id")
        )
        index = next((n for n, r in enumerate(ordered) if r.pk == rule.pk), None)
        if index is None:
            raise services.PaymentRefused(_("This rule was deleted."))
        _rule_refused_for_client(ordered[index], by_client=by_client)
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(ordered):
            raise services.PaymentRefused(
                _("This rule is first already.") if direction == "up" else _("This rule is last already.")
            )
        if by_client and ordered[other].locked:
            raise services.PaymentRefused(_("A rule locked by your service provider keeps its place."))
        ordered[index], ordered[other] = ordered[other], ordered[index]
        for position, each in enumerate(ordered):
            if each.position != position:
                AutopayRule.objects.filter(pk=each.pk).update(position=position)
            each.position = position
        moved = ordered[other]
        _rule_audit(
            rule=moved,
            actor=actor,
            action="move",
            summary=f"Autopay rule moved {direction} to place {other + 1}: {_describe(moved)}",
            by_client=by_client,
        )
    return moved


def rule_delete(*, rule: AutopayRule, actor: User | None, by_client: bool) -> None:
    """Delete a rule. Charges it scheduled and not yet made are skipped ("Its rule was
    deleted."); charges made keep their payments."""
    with transaction.atomic():
        rule = _rule_for_change(rule)
        _rule_refused_for_client(rule, by_client=by_client)
        ScheduledCharge.objects.filter(
            rule=rule,
            status__in=[
                ScheduledChargeStatus.SCHEDULED,
                ScheduledChargeStatus.AWAITING_APPROVAL,
                ScheduledChargeStatus.APPROVED,
            ],
        ).update(status=ScheduledChargeStatus.SKIPPED, note="Its rule was deleted.")
        _rule_audit(
            rule=rule,
            actor=actor,
            action="delete",
            summary=f"Autopay rule deleted: {_describe(rule)}",
            by_client=by_client,
        )
        rule.delete()
