"""Staff payment pages: every payment with filters, one payment (invoices, events, Stripe ids),
and Refund (Master Admin and Billing staff, once per submitted form)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views import View

from accounts.permissions import StaffRequiredMixin
from integrations.base import IntegrationError
from payments import selectors, services
from payments.forms import PaymentFilterForm, RefundForm, new_attempt_token


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
        context = {"payment": payment, "refund_form": refund_form}
        return render(request, self.template_name, context, status=status)


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
            messages.warning(request, f"Stripe did not answer ({exc}). The refund is recorded and will be retried.")
            return redirect("payments:detail", payment.pk)
        if refund.status == "failed":
            messages.error(request, f"Stripe refused the refund: {refund.failure_reason}")
        else:
            messages.success(
                request, f"Refund of {refund.amount:,.2f} {payment.currency}: {refund.get_status_display()}."
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
            messages.error(request, f"Stripe could not be asked: {exc}")
        else:
            messages.success(request, "Checked with Stripe.")
        return redirect("payments:detail", payment.pk)
