"""Reads for payments: balances as the client sees them, lists, one payment.

Invariants:
- The balance a client may pay is the synced BMS balance less the portal's own payments BMS
  does not reflect yet (``unreflected_amounts``): in flight, or succeeded since the balance
  was synced. Nobody pays twice while the sync catches up. When the accounting package shows
  less due (less the portal payments it does not show yet), that lower amount is the most.
- Every client read is scoped by organization; another organization's payment answers 404.
- Autopay reads evaluate rules in one pass over the invoices shown (a query for the rules, none
  per invoice), with the same first-match rule as the daily run (``rule_matches``, ``slot_for``).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from billing.balances import accounting_balances
from billing.models import Invoice
from integrations.locale import tenant_currency, tenant_locale
from organizations.models import Contract
from payments.models import (
    IN_FLIGHT_STATUSES,
    AutopayRule,
    AutopayTiming,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
    PostingStatus,
    ScheduledCharge,
    ScheduledChargeStatus,
)

ZERO = Decimal("0")

# Payments whose money is (or may soon be) with the MSP: BMS should show them on the invoice.
_COUNTED_STATUSES = (*IN_FLIGHT_STATUSES, PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED)
# Postings whose payment the accounting package does not show (yet, or ever: staff must act).
_NOT_IN_PACKAGE = (PostingStatus.PENDING, PostingStatus.REFUSED)


def invoice_currencies(invoices: Iterable[Invoice]) -> list[str]:
    """The currencies these invoices are in, sorted: each invoice's own, else the BMS tenant's
    (``PORTAL_CURRENCY`` before any tenant is known)."""
    tenants = tenant_currency()
    return sorted({invoice.currency or tenants for invoice in invoices})


def pay_page_currency(invoices: Iterable[Invoice]) -> str:
    """The currency the pay page names: the listed invoices', when they share one; else the tenant's."""
    currencies = invoice_currencies(invoices)
    return currencies[0] if len(currencies) == 1 else tenant_currency()


@dataclass(frozen=True)
class InvoicePaymentState:
    invoice_id: int
    balance: Decimal  # as BMS last said
    unreflected: Decimal  # portal payments BMS does not show yet
    processing: bool  # a portal payment is in flight
    # What the accounting package shows due, less portal payments it does not show yet; None: no
    # package, or it has no such invoice.
    accounting_due: Decimal | None = None

    @property
    def payable(self) -> Decimal:
        """The most a client may pay on it now: the lower of BMS's and the accounting package's."""
        payable = max(ZERO, self.balance - self.unreflected)
        return payable if self.accounting_due is None else max(ZERO, min(payable, self.accounting_due))

    @property
    def limited_by_accounting(self) -> bool:
        """The accounting package shows less due than BMS (less the portal's payments) does."""
        return self.accounting_due is not None and self.accounting_due < self.balance - self.unreflected


def unreflected_amounts(invoices: Iterable[Invoice]) -> dict[int, InvoicePaymentState]:
    """Per invoice, how much of the portal's payments BMS does not reflect yet.

    Cumulative, so it needs no reconciliation record: S is the sum the portal's counted payments
    put on the invoice; R is how far the synced balance has fallen since the first of them was
    made (its ``balance_before``); what BMS does not show yet is S - R, never below 0. A balance
    that grows again (the invoice edited in BMS) makes R smaller, so the client is shown less
    to pay, never more. Failed and fully refunded payments do not count.

    The accounting package's amount due (``billing.balances``, stored figures: one query for the
    list) caps it too, less the portal payments the package does not show yet: in flight, or
    their posting pending or refused (``_NOT_IN_PACKAGE``). A posted payment is in the stored
    figure: the posting moves it at once."""
    invoices = list(invoices)
    allocations = PaymentAllocation.objects.filter(
        invoice_id__in=[i.pk for i in invoices], payment__status__in=_COUNTED_STATUSES
    ).values_list("invoice_id", "amount", "balance_before", "payment__status", "posting__status", "posting__amount")
    paid: dict[int, Decimal] = defaultdict(lambda: ZERO)
    not_in_package: dict[int, Decimal] = defaultdict(lambda: ZERO)
    baseline: dict[int, Decimal] = {}
    processing: set[int] = set()
    for invoice_id, amount, balance_before, status, posting_status, posting_amount in allocations:
        paid[invoice_id] += amount
        baseline[invoice_id] = max(baseline.get(invoice_id, balance_before), balance_before)
        if status in IN_FLIGHT_STATUSES:
            processing.add(invoice_id)
        if status in IN_FLIGHT_STATUSES or posting_status in _NOT_IN_PACKAGE:
            not_in_package[invoice_id] += amount if posting_amount is None else posting_amount
    accounting = accounting_balances(invoices)
    states = {}
    for invoice in invoices:
        reflected = max(ZERO, baseline.get(invoice.pk, invoice.balance_due) - invoice.balance_due)
        in_package = accounting.get(invoice.pk)
        states[invoice.pk] = InvoicePaymentState(
            invoice_id=invoice.pk,
            balance=invoice.balance_due,
            unreflected=max(ZERO, paid[invoice.pk] - reflected),
            processing=invoice.pk in processing,
            accounting_due=None if in_package is None else in_package.amount_due - not_in_package[invoice.pk],
        )
    return states


def invoice_payment_state(invoice: Invoice) -> InvoicePaymentState:
    return unreflected_amounts([invoice])[invoice.pk]


def payable_invoices(*, organization_id: int | None, invoice_ids: Iterable[int] | None = None) -> list[Invoice]:
    """The organization's open invoices (all, or those of ``invoice_ids``), oldest due first."""
    if organization_id is None:
        return []
    invoices = Invoice.objects.filter(organization_id=organization_id, deleted_at__isnull=True, balance_due__gt=0)
    if invoice_ids is not None:
        invoices = invoices.filter(pk__in=list(invoice_ids))
    return list(invoices.order_by("due_date", "pk"))


# --- payment methods -------------------------------------------------------------------------


def saved_methods(*, organization_id: int) -> QuerySet[PaymentMethod]:
    """Methods the organization keeps (not removed, not one-off)."""
    return PaymentMethod.objects.filter(organization_id=organization_id, is_saved=True, removed_at__isnull=True)


def client_method_get(*, organization_id: int | None, pk: int) -> PaymentMethod:
    method = saved_methods(organization_id=organization_id or 0).filter(pk=pk).first()
    if method is None:
        raise Http404("No such payment method.")
    return method


# --- payments --------------------------------------------------------------------------------


def client_payment_list(*, organization_id: int | None) -> QuerySet[Payment]:
    if organization_id is None:
        return Payment.objects.none()
    return (
        Payment.objects.filter(organization_id=organization_id)
        .select_related("method")
        .prefetch_related("allocations__invoice")
    )


def client_payment_get(*, organization_id: int | None, pk: int) -> Payment:
    """One of the organization's payments, or Http404 (never another organization's)."""
    payment = client_payment_list(organization_id=organization_id).filter(pk=pk).first()
    if payment is None:
        raise Http404("No such payment.")
    return payment


def payment_list(
    *,
    organization_id: int | None = None,
    status: str = "",
    method_kind: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Payment]:
    payments = Payment.objects.select_related("organization", "method", "initiated_by_user")
    if organization_id:
        payments = payments.filter(organization_id=organization_id)
    if status:
        payments = payments.filter(status=status)
    if method_kind:
        payments = payments.filter(method__kind=method_kind)
    if date_from:
        payments = payments.filter(created_at__date__gte=date_from)
    if date_to:
        payments = payments.filter(created_at__date__lte=date_to)
    return payments.prefetch_related("allocations__invoice").order_by("-created_at", "-id")


def payment_get(*, pk: int) -> Payment:
    payment = (
        Payment.objects.select_related("organization", "method", "initiated_by_user")
        .prefetch_related("allocations__invoice", "refunds__requested_by", "events")
        .filter(pk=pk)
        .first()
    )
    if payment is None:
        raise Http404("No such payment.")
    return payment


# --- autopay ---------------------------------------------------------------------------------


def rule_problem(rule: AutopayRule, *, today: date) -> str:
    """Why the rule cannot charge now ("" when it can)."""
    method = rule.method
    if method.removed_at is not None:
        return _("Its payment method (%(method)s) was removed.") % {"method": method.label}
    if method.is_expired:
        return _("Its payment method (%(method)s) has expired.") % {"method": method.label}
    contract = rule.contract
    if contract is not None and contract.end_date is not None and contract.end_date.date() < today:
        return _("Its contract %(contract)s ended on %(date)s.") % {
            "contract": contract.name,
            "date": f"{contract.end_date:%Y-%m-%d}",
        }
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
        for _month in range(2):
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


def rule_when(rule: AutopayRule) -> str:
    """ "3 days before the due date", "on day 5 of the month"..."""
    days = {"days": rule.days}
    if rule.timing == AutopayTiming.DAYS_BEFORE_DUE:
        if not rule.days:
            return _("on the due date")
        return ngettext("%(days)d day before the due date", "%(days)d days before the due date", rule.days) % days
    if rule.timing == AutopayTiming.DAYS_AFTER_DUE:
        if not rule.days:
            return _("on the due date")
        return ngettext("%(days)d day after the due date", "%(days)d days after the due date", rule.days) % days
    if rule.timing == AutopayTiming.DAYS_AFTER_INVOICE:
        if not rule.days:
            return _("on the invoice date")
        return ngettext("%(days)d day after the invoice date", "%(days)d days after the invoice date", rule.days) % days
    return _("on day %(days)s of the month") % days


def rule_criteria(rule: AutopayRule) -> str:
    """ "Contract Managed services, at most $500.00, status Sent" or "Every invoice"."""
    parts = []
    if rule.contract_id:
        parts.append(_("contract %(contract)s") % {"contract": rule.contract.name})
    if rule.max_amount is not None:
        parts.append(_("at most %(amount)s") % {"amount": tenant_locale().money(rule.max_amount)})
    if rule.invoice_status:
        parts.append(_("status %(status)s") % {"status": rule.invoice_status})
    if not parts:
        return _("Every open invoice")
    text = ", ".join(parts)
    return text[0].upper() + text[1:]


def _today() -> date:
    return timezone.localdate()


def rule_current_problem(rule: AutopayRule, *, today: date | None = None) -> str:
    """What stops the rule now: its method or contract as they are today, or what the daily
    run recorded (the pages must not wait for the next run to show a removed card)."""
    return rule_problem(rule, today=today or _today()) or rule.error


def organization_rules(*, organization_id: int | None) -> list[AutopayRule]:
    """The organization's rules in order, each with ``problem`` (what stops it, or "")."""
    if organization_id is None:
        return []
    rules = list(
        AutopayRule.objects.filter(organization_id=organization_id)
        .select_related("method", "contract")
        .order_by("position", "id")
    )
    today = _today()
    for rule in rules:
        rule.problem = rule_current_problem(rule, today=today)
    return rules


def rule_get(*, organization_id: int | None, pk: int) -> AutopayRule:
    """One of the organization's rules, or Http404 (never another organization's)."""
    rule = (
        AutopayRule.objects.filter(organization_id=organization_id or 0, pk=pk)
        .select_related("organization", "method", "contract")
        .first()
    )
    if rule is None:
        raise Http404("No such autopay rule.")
    rule.problem = rule_current_problem(rule)
    return rule


def organization_contracts(*, organization_id: int) -> QuerySet[Contract]:
    return Contract.objects.filter(organization_id=organization_id, deleted_at__isnull=True).order_by("name", "id")


def invoice_statuses() -> list[str]:
    """The invoice statuses BMS uses (as synced), for the rule's status criterion."""
    return sorted(
        s for s in Invoice.objects.exclude(status="").values_list("status", flat=True).distinct().order_by() if s
    )


@dataclass(frozen=True)
class AutopayEligibility:
    rule: AutopayRule
    position: int  # 1-based, as the pages number the rules
    charge_on: date | None  # None: the invoice lacks the date the rule needs


def autopay_eligibility(invoices: Iterable[Invoice]) -> dict[int, AutopayEligibility]:
    """Per open invoice that a rule would pay, the first active rule (by position) it matches,
    as the daily run chooses. One query for the rules of every organization shown."""
    invoices = [i for i in invoices if i.balance_due > 0]
    organization_ids = {i.organization_id for i in invoices if i.organization_id}
    if not organization_ids:
        return {}
    today = _today()
    by_organization: dict[int, list[tuple[int, AutopayRule]]] = defaultdict(list)
    rules = (
        AutopayRule.objects.filter(organization_id__in=organization_ids)
        .select_related("method", "contract")
        .order_by("organization_id", "position", "id")
    )
    positions: dict[int, int] = defaultdict(int)
    for rule in rules:
        positions[rule.organization_id] += 1  # numbered among all rules, as the pages show them
        # Whether a rule can charge at all depends on the rule alone: asked once, not per invoice.
        if rule.enabled and not rule.paused_at and not rule_current_problem(rule, today=today):
            by_organization[rule.organization_id].append((positions[rule.organization_id], rule))
    eligible = {}
    for invoice in invoices:
        for position, rule in by_organization.get(invoice.organization_id, []):
            if rule_matches(rule, invoice):
                eligible[invoice.pk] = AutopayEligibility(rule, position, slot_for(rule, invoice))
                break
    return eligible


@dataclass(frozen=True)
class CalendarEntry:
    """A charge on the payments calendar: scheduled already (``charge`` set) or foreseen from
    the rules (the daily run will schedule it on that day)."""

    day: date
    organization_name: str
    invoice: Invoice
    rule: AutopayRule | None
    amount: Decimal
    status: str  # a ScheduledChargeStatus value, or "forecast"
    status_label: str
    charge: ScheduledCharge | None = None

    @property
    def awaiting_approval(self) -> bool:
        if self.charge is not None:
            return self.status == ScheduledChargeStatus.AWAITING_APPROVAL
        return bool(self.rule and self.rule.requires_approval)


def payments_calendar(*, date_from: date, date_to: date, organization_id: int | None = None) -> dict[date, list]:
    """Charges by day between the two dates (inclusive), days in order: the scheduled charges,
    and from today on the charges the rules will schedule (payable invoices no charge holds)."""
    charges = ScheduledCharge.objects.filter(charge_on__gte=date_from, charge_on__lte=date_to).select_related(
        "organization", "invoice", "rule", "rule__method", "payment"
    )
    if organization_id:
        charges = charges.filter(organization_id=organization_id)
    days: dict[date, list[CalendarEntry]] = defaultdict(list)
    for charge in charges.order_by("charge_on", "organization__name", "id"):
        days[charge.charge_on].append(
            CalendarEntry(
                day=charge.charge_on,
                organization_name=charge.organization.name,
                invoice=charge.invoice,
                rule=charge.rule,
                amount=charge.payment.amount if charge.payment_id else charge.invoice.balance_due,
                status=charge.status,
                status_label=charge.get_status_display(),
                charge=charge,
            )
        )
    today = _today()
    if date_to >= today:
        for entry in _forecast(date_from=max(date_from, today), date_to=date_to, organization_id=organization_id):
            days[entry.day].append(entry)
    return dict(sorted(days.items()))


def _forecast(*, date_from: date, date_to: date, organization_id: int | None) -> list[CalendarEntry]:
    rules = AutopayRule.objects.filter(enabled=True, paused_at__isnull=True)
    if organization_id:
        rules = rules.filter(organization_id=organization_id)
    rules = list(rules.select_related("method", "contract", "organization").order_by("position", "id"))
    today = _today()
    by_organization: dict[int, list[AutopayRule]] = defaultdict(list)
    for rule in rules:
        if not rule_current_problem(rule, today=today):
            by_organization[rule.organization_id].append(rule)
    if not by_organization:
        return []
    held = set(
        ScheduledCharge.objects.filter(organization_id__in=list(by_organization))
        .exclude(status__in=[ScheduledChargeStatus.SKIPPED, ScheduledChargeStatus.FAILED])
        .values_list("invoice_id", flat=True)
    )
    invoices = [
        i
        for i in Invoice.objects.filter(
            organization_id__in=list(by_organization), deleted_at__isnull=True, balance_due__gt=0
        ).order_by("due_date", "pk")
        if i.pk not in held
    ]
    states = unreflected_amounts(invoices)
    entries = []
    for invoice in invoices:
        payable = states[invoice.pk].payable
        if payable <= 0:
            continue
        rule = next((r for r in by_organization[invoice.organization_id] if rule_matches(r, invoice)), None)
        slot = slot_for(rule, invoice) if rule else None
        if slot is None:
            continue
        day = max(slot, today)  # a slot already passed is scheduled by the next run
        if date_from <= day <= date_to:
            entries.append(
                CalendarEntry(
                    day=day,
                    organization_name=rule.organization.name,
                    invoice=invoice,
                    rule=rule,
                    amount=payable,
                    status="forecast",
                    status_label="Foreseen",
                )
            )
    return entries


def approvals_pending() -> QuerySet[ScheduledCharge]:
    """Charges waiting for a staff decision, the soonest first."""
    return (
        ScheduledCharge.objects.filter(status=ScheduledChargeStatus.AWAITING_APPROVAL)
        .select_related("organization", "invoice", "rule", "rule__method")
        .order_by("charge_on", "id")
    )


def scheduled_charge_get(*, pk: int) -> ScheduledCharge:
    charge = ScheduledCharge.objects.select_related("organization", "invoice").filter(pk=pk).first()
    if charge is None:
        raise Http404("No such scheduled charge.")
    return charge


def month_bounds(day: date) -> tuple[date, date]:
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
