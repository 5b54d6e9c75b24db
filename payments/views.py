"""Staff payment pages: every payment with filters, one payment (invoices, events, Stripe ids),
and Refund (Master Admin and Billing staff, once per submitted form); an organization's
autopay rules, the payments calendar and autopay approvals (both staff roles; every change is
audited by the services in payments.autopay)."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from accounts.permissions import StaffRequiredMixin
from integrations.base import IntegrationError
from integrations.locale import tenant_locale
from organizations.models import Organization
from payments import autopay, receipts, selectors, services
from payments.forms import (
    AutopayDecisionForm,
    AutopayRuleForm,
    CalendarMonthForm,
    PaymentFilterForm,
    RefundForm,
    new_attempt_token,
)


class PaymentListView(StaffRequiredMixin, View):
    template_name = "payments/staff_list.html"
    paginate_by = 50

    def get(self, request):
        form = PaymentFilterForm(request.GET or None)
        data = form.cleaned_data if form.is_valid() else {}
        organization = data.get("organization")
        payments = selectors.payment_list(
            organization_id=organization.pk if organization else None,
            status=data.get("status") or "",
            method_kind=data.get("method") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )
        page = Paginator(payments, self.paginate_by).get_page(request.GET.get("page"))
        others = request.GET.copy()
        others.pop("page", None)
        context = {
            "filter_form": form,
            "payments": page.object_list,
            "page_obj": page,
            "is_paginated": page.has_other_pages(),
            "query_string": others.urlencode(),
        }
        return render(request, self.template_name, context)


class PaymentDetailView(StaffRequiredMixin, View):
    template_name = "payments/staff_detail.html"

    def get(self, request, pk: int, refund_form=None, status: int = 200):
        payment = selectors.payment_get(pk=pk)
        refund_form = refund_form or RefundForm(
            initial={"amount": payment.refundable_amount, "token": new_attempt_token()}
        )
        context = {"payment": payment, "refund_form": refund_form, "receipt_issued": receipts.is_issued(payment)}
        return render(request, self.template_name, context, status=status)


class PaymentReceiptPdfView(StaffRequiredMixin, View):
    """The receipt the client gets, as a PDF download."""

    def get(self, request, pk: int):
        return receipts.receipt_pdf_response(receipts.receipt_or_404(selectors.payment_get(pk=pk)))


class PaymentRefundView(StaffRequiredMixin, View):
    def post(self, request, pk: int):
        payment = selectors.payment_get(pk=pk)
        form = RefundForm(request.POST)
        if not form.is_valid():
            return PaymentDetailView().get(request, pk, refund_form=form, status=400)
        data = form.cleaned_data
        try:
            refund = services.refund_create(
                payment_id=payment.pk,
                amount=data["amount"],
                reason=data["reason"],
                actor=request.user,
                request_token=data["token"],
            )
        except services.PaymentRefused as exc:
            form.add_error(None, str(exc))
            return PaymentDetailView().get(request, pk, refund_form=form, status=400)
        except (IntegrationError, services.PaymentsUnavailable) as exc:
            messages.warning(
                request,
                _("Stripe did not answer (%(error)s). The refund is recorded and will be retried.") % {"error": exc},
            )
            return redirect("payments:detail", payment.pk)
        if refund.status == "failed":
            messages.error(request, _("Stripe refused the refund: %(reason)s") % {"reason": refund.failure_reason})
        else:
            refunded = tenant_locale().money(refund.amount, payment.currency)
            messages.success(
                request,
                _("Refund of %(amount)s: %(status)s.") % {"amount": refunded, "status": refund.get_status_display()},
            )
        return redirect("payments:detail", payment.pk)


class PaymentRefreshView(StaffRequiredMixin, View):
    """Check with Stripe now: re-read the charge (and any refunds awaiting an answer)."""

    def post(self, request, pk: int):
        payment = selectors.payment_get(pk=pk)
        try:
            services.payment_refresh(payment_id=payment.pk)
            for refund in payment.refunds.filter(status__in=["requested", "pending"]):
                services.refund_refresh(refund_id=refund.pk)
        except (IntegrationError, services.PaymentsUnavailable) as exc:
            messages.error(request, _("Stripe could not be asked: %(error)s") % {"error": exc})
        else:
            messages.success(request, _("Checked with Stripe."))
        return redirect("payments:detail", payment.pk)


# --- autopay rules: Organizations > an organization > Autopay --------------------------------


class OrganizationAutopayMixin(StaffRequiredMixin):
    def organization(self) -> Organization:
        return get_object_or_404(Organization, pk=self.kwargs["pk"])

    def rule_form(self, organization, data=None, initial=None) -> AutopayRuleForm:
        return AutopayRuleForm(
            data, initial=initial, organization_id=organization.pk, staff=True, statuses=selectors.invoice_statuses()
        )


class AutopayRulesView(OrganizationAutopayMixin, View):
    """The organization's ordered rules (each with what stops it), and a form to add one."""

    template_name = "payments/autopay_rules.html"

    def get(self, request, pk: int, form=None, status: int = 200):
        organization = self.organization()
        context = {
            "organization": organization,
            "rules": selectors.organization_rules(organization_id=organization.pk),
            "form": form or self.rule_form(organization),
            "staff": True,
        }
        return render(request, self.template_name, context, status=status)

    def post(self, request, pk: int):
        organization = self.organization()
        form = self.rule_form(organization, request.POST)
        if not form.is_valid():
            return self.get(request, pk, form=form, status=400)
        try:
            autopay.rule_create(organization=organization, actor=request.user, by_client=False, **form.cleaned_data)
        except services.PaymentRefused as exc:
            form.add_error(None, str(exc))
            return self.get(request, pk, form=form, status=400)
        messages.success(request, _("The autopay rule was added."))
        return redirect("organization-autopay:rules", organization.pk)


class AutopayRuleView(OrganizationAutopayMixin, View):
    template_name = "payments/autopay_rule.html"

    def get(self, request, pk: int, rule_pk: int, form=None, status: int = 200):
        organization = self.organization()
        rule = selectors.rule_get(organization_id=organization.pk, pk=rule_pk)
        form = form or self.rule_form(organization, initial=AutopayRuleForm.initial_of(rule))
        context = {"organization": organization, "rule": rule, "form": form, "staff": True}
        return render(request, self.template_name, context, status=status)

    def post(self, request, pk: int, rule_pk: int):
        organization = self.organization()
        rule = selectors.rule_get(organization_id=organization.pk, pk=rule_pk)
        form = self.rule_form(organization, request.POST)
        if not form.is_valid():
            return self.get(request, pk, rule_pk, form=form, status=400)
        try:
            autopay.rule_update(rule=rule, actor=request.user, by_client=False, **form.cleaned_data)
        except services.PaymentRefused as exc:
            form.add_error(None, str(exc))
            return self.get(request, pk, rule_pk, form=form, status=400)
        messages.success(request, _("The autopay rule was saved."))
        return redirect("organization-autopay:rules", organization.pk)


class AutopayRuleMoveView(OrganizationAutopayMixin, View):
    def post(self, request, pk: int, rule_pk: int):
        rule = selectors.rule_get(organization_id=pk, pk=rule_pk)
        try:
            autopay.rule_move(rule=rule, actor=request.user, by_client=False, direction=request.POST.get("direction"))
        except services.PaymentRefused as exc:
            messages.error(request, str(exc))
        return redirect("organization-autopay:rules", pk)


class AutopayRuleDeleteView(OrganizationAutopayMixin, View):
    def post(self, request, pk: int, rule_pk: int):
        rule = selectors.rule_get(organization_id=pk, pk=rule_pk)
        autopay.rule_delete(rule=rule, actor=request.user, by_client=False)
        messages.success(request, _("The autopay rule was deleted."))
        return redirect("organization-autopay:rules", pk)


# --- Payments > Payments calendar, Autopay approvals -----------------------------------------


class PaymentsCalendarView(StaffRequiredMixin, View):
    """Autopay charges by day for one month (``?month=2026-06``): a list of days, readable on a
    phone, each charge with its rule, invoice, organization, amount and approval state."""

    template_name = "payments/calendar.html"

    def get(self, request):
        form = CalendarMonthForm(request.GET or None)
        data = form.cleaned_data if form.is_valid() else {}
        today = timezone.localdate()
        month = date.fromisoformat(f"{data['month']}-01") if data.get("month") else today.replace(day=1)
        first, last = selectors.month_bounds(month)
        organization = data.get("organization")
        days = selectors.payments_calendar(
            date_from=first, date_to=last, organization_id=organization.pk if organization else None
        )
        previous = selectors.month_bounds(first.replace(day=1) - timezone.timedelta(days=1))[0]
        following = last + timezone.timedelta(days=1)
        context = {
            "form": form,
            "month": first,
            "days": days,
            "today": today,
            "previous_month": f"{previous:%Y-%m}",
            "next_month": f"{following:%Y-%m}",
            "organization": organization,
        }
        return render(request, self.template_name, context)


class AutopayApprovalsView(StaffRequiredMixin, View):
    template_name = "payments/approvals.html"

    def get(self, request):
        context = {"charges": selectors.approvals_pending(), "today": timezone.localdate()}
        return render(request, self.template_name, context)


class AutopayDecideView(StaffRequiredMixin, View):
    """Approve, skip or reschedule one charge: once (a second click is refused, nothing twice)."""

    def post(self, request, pk: int):
        charge = selectors.scheduled_charge_get(pk=pk)
        form = AutopayDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
            return redirect("payments:approvals")
        data = form.cleaned_data
        try:
            charge = autopay.scheduled_charge_decide(
                charge=charge, actor=request.user, decision=data["decision"], charge_on=data.get("charge_on")
            )
        except services.PaymentRefused as exc:
            messages.warning(
                request, _("Invoice %(number)s: %(error)s") % {"number": charge.invoice.number, "error": exc}
            )
        else:
            done = {
                "approve": _("Autopay of invoice %(number)s approved."),
                "skip": _("Autopay of invoice %(number)s skipped."),
                "reschedule": _("Autopay of invoice %(number)s moved to %(date)s."),
            }
            messages.success(
                request,
                done[data["decision"]] % {"number": charge.invoice.number, "date": f"{charge.charge_on:%Y-%m-%d}"},
            )
        return redirect("payments:approvals")
