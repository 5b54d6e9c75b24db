"""The client's payment pages: pay invoices, follow a payment, payment methods, history, receipts,
and Autopay (the organization's rules; a rule the MSP locked is read-only here).

Every lookup is scoped by ``request.user.organization``: another organization's invoice,
payment or method answers 404 whatever id is tried. Card data never reaches these views: the
browser confirms a setup with Stripe.js and posts only its id. Views are thin: the rules live
in payments.services."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from accounts.permissions import ClientContactRequiredMixin
from core.client_address import client_address
from integrations.base import IntegrationError
from payments import autopay, receipts, selectors, services
from payments.forms import AutopayRuleForm, MethodSaveForm, PayForm, new_attempt_token, parse_amount
from payments.models import Initiator, MethodKind, Payment

# The status panel re-reads a charge in flight at most this often (webhooks may lag or be lost).
REFRESH_AFTER = timedelta(seconds=10)
ZERO = Decimal("0")


def _two_places(amount: Decimal) -> Decimal:
    """Amounts are stored with three places (for three-decimal currencies): show two when the
    third is zero, as the client typed them."""
    cents = amount.quantize(Decimal("0.01"))
    return cents if cents == amount else amount


class ClientPaymentsMixin(ClientContactRequiredMixin):
    @property
    def organization(self):
        return self.request.user.organization

    @property
    def organization_id(self) -> int | None:
        return self.request.user.organization_id

    def browser_config(self) -> dict:
        """Stripe.js's URL and the publishable key, or {} when payments are not set up."""
        try:
            publishable_key, js_url = services.collector().browser_config()
        except services.PaymentsUnavailable:
            return {}
        return {"publishable_key": publishable_key, "stripe_js_url": js_url}


class PayView(ClientPaymentsMixin, View):
    """Pay one invoice, or several selected together, in full or in part. ``?invoice=1&invoice=2``
    preselects; the page lists every open invoice of the organization to choose from."""

    template_name = "payments/pay.html"
    max_listed = 200  # open invoices offered at once, the oldest due first

    def _selected(self, ids) -> list[int]:
        return [int(i) for i in ids if str(i).isdigit()]

    def _render(
        self, request, selected: list[int], *, form=None, amounts=None, error="", notice="", new_card=None, status=200
    ):
        """The page; ``new_card``: the card just entered (its setup confirmed), offered again
        on the confirm step that shows its surcharge, so it is not entered twice."""
        invoices = selectors.payable_invoices(organization_id=self.organization_id)[: self.max_listed]
        if len(invoices) == 1 and not selected:
            selected = [invoices[0].pk]
        states = selectors.unreflected_amounts(invoices)
        rows = [
            {
                "invoice": invoice,
                "state": states[invoice.pk],
                "selected": invoice.pk in selected,
                "amount": _two_places((amounts or {}).get(invoice.pk) or states[invoice.pk].payable),
            }
            for invoice in invoices
        ]
        methods = list(selectors.saved_methods(organization_id=self.organization_id)) if self.organization_id else []
        default = next((m for m in methods if m.is_default), methods[0] if methods else None)
        context = {
            "rows": rows,
            "methods": methods,
            "surcharged_methods": [m.pk for m in methods if services.surcharge_applies(m)],
            "new_card": new_card,
            "new_card_surcharged": new_card is not None and services.surcharge_applies(new_card),
            "setup_id": form.cleaned_data.get("setup_id", "") if new_card is not None else "",
            "save_card": new_card is not None and form.cleaned_data.get("save_card"),
            "chosen_method": (form.data.get("method") if form is not None else None)
            or (str(default.pk) if default else "new"),
            "attempt": (form.data.get("attempt") if form is not None else None) or new_attempt_token(),
            "currency": selectors.pay_page_currency(invoices),
            "minimum": settings.PAYMENTS_MINIMUM_AMOUNT,
            "surcharge_percent": settings.PAYMENTS_CARD_SURCHARGE_PERCENT,
            "surcharge_cap": settings.PAYMENTS_CARD_SURCHARGE_CAP,
            "error": error,
            "notice": notice,
            **self.browser_config(),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        return self._render(request, self._selected(request.GET.getlist("invoice")))

    def post(self, request):
        selected = self._selected(request.POST.getlist("invoice"))
        invoices = selectors.payable_invoices(organization_id=self.organization_id, invoice_ids=selected)
        amounts = {invoice.pk: parse_amount(request.POST.get(f"amount-{invoice.pk}")) for invoice in invoices}
        form = PayForm(request.POST)

        def refused(error: str, status: int = 400):
            return self._render(request, selected, form=form, amounts=amounts, error=error, status=status)

        if not invoices or len(invoices) != len(set(selected)):
            return refused(_("Choose at least one of your open invoices."))
        if not form.is_valid():
            return refused(" ".join(e for errors in form.errors.values() for e in errors))
        bad = [invoice.number for invoice in invoices if amounts[invoice.pk] is None]
        if bad:
            return refused(_("Enter an amount for invoice %(numbers)s.") % {"numbers": ", ".join(bad)})
        data = form.cleaned_data
        try:
            if data["method"] == "new":
                method = services.method_save_from_setup(
                    organization=self.organization,
                    actor=request.user,
                    setup_id=data["setup_id"],
                    save=data["save_card"],
                )
            else:
                method = selectors.client_method_get(organization_id=self.organization_id, pk=int(data["method"]))
            payment = services.payment_create(
                organization=self.organization,
                amounts=[services.InvoiceAmount(i.pk, amounts[i.pk]) for i in invoices],
                method=method,
                initiated_by=Initiator.CLIENT,
                actor=request.user,
                attempt=data["attempt"],
                shown_surcharge=data["surcharge_shown"] or ZERO,
            )
        except services.SurchargeNotShown as exc:
            # The confirm step: nothing was recorded; the page shows the surcharge and the total.
            new_card = method if data["method"] == "new" else None
            return self._render(request, selected, form=form, amounts=amounts, notice=str(exc), new_card=new_card)
        except (services.PaymentRefused, services.PaymentsUnavailable) as exc:
            return refused(str(exc))
        except IntegrationError as exc:
            return refused(
                _("The payment could not be started: %(error)s Nothing was charged; please try again.")
                % {"error": exc},
                502,
            )
        return redirect("client-payments:payment", payment.pk)


class MethodSetupView(ClientPaymentsMixin, View):
    """A setup for the browser to confirm a new card or bank account with (JSON)."""

    def post(self, request):
        if self.organization is None:
            raise Http404("No organization to add a payment method to.")
        kind = request.POST.get("kind", MethodKind.CARD)
        if kind not in MethodKind.values:
            return JsonResponse({"error": _("Unknown payment method type.")}, status=400)
        try:
            setup = services.method_setup_begin(organization=self.organization, kinds=(kind,))
        except services.PaymentsUnavailable as exc:
            return JsonResponse({"error": str(exc)}, status=503)
        except IntegrationError as exc:
            return JsonResponse(
                {"error": _("The card form could not be prepared: %(error)s") % {"error": exc}}, status=502
            )
        return JsonResponse({"id": setup.id, "client_secret": setup.client_secret})


class PaymentStatusView(ClientPaymentsMixin, View):
    template_name = "payments/payment.html"

    def get(self, request, pk: int):
        payment = selectors.client_payment_get(organization_id=self.organization_id, pk=pk)
        context = {"payment": payment, **_status_context(payment), **self.browser_config()}
        return render(request, self.template_name, context)


def _status_context(payment: Payment) -> dict:
    secret = ""
    if payment.action_required:
        try:
            secret = services.payment_authentication_secret(payment=payment)
        except (IntegrationError, services.PaymentsUnavailable):
            secret = ""
    return {"client_secret": secret, "in_flight": payment.is_in_flight}


class PaymentStatusPanelView(ClientPaymentsMixin, View):
    """The status panel alone, polled while the payment is in flight."""

    def get(self, request, pk: int):
        payment = selectors.client_payment_get(organization_id=self.organization_id, pk=pk)
        stale = payment.last_checked_at is None or payment.last_checked_at < timezone.now() - REFRESH_AFTER
        if payment.is_in_flight and payment.processor_intent_id and stale:
            # On failure it is shown as it is; the worker and webhooks settle it.
            with contextlib.suppress(IntegrationError, services.PaymentsUnavailable):
                payment = services.payment_refresh(payment_id=payment.pk)
        context = {"payment": payment, **_status_context(payment), **self.browser_config()}
        return render(request, "payments/_payment_status.html", context)


class PaymentAuthenticatedView(ClientPaymentsMixin, View):
    """The browser finished (or abandoned) 3-D Secure: read the charge's state."""

    def post(self, request, pk: int):
        payment = selectors.client_payment_get(organization_id=self.organization_id, pk=pk)
        try:
            services.payment_refresh(payment_id=payment.pk)
        except (IntegrationError, services.PaymentsUnavailable):
            messages.info(request, _("Your payment is being checked; this page updates by itself."))
        return redirect("client-payments:payment", payment.pk)


class PaymentHistoryView(ClientPaymentsMixin, View):
    template_name = "payments/history.html"
    paginate_by = 25

    def get(self, request):
        payments = selectors.client_payment_list(organization_id=self.organization_id)
        page = Paginator(payments, self.paginate_by).get_page(request.GET.get("page"))
        context = {
            "page_obj": page,
            "payments": page.object_list,
            "is_paginated": page.has_other_pages(),
            "query_string": "",
        }
        return render(request, self.template_name, context)


class PaymentReceiptView(ClientPaymentsMixin, View):
    template_name = "payments/receipt.html"

    def get(self, request, pk: int):
        payment = selectors.client_payment_get(organization_id=self.organization_id, pk=pk)
        receipt = receipts.receipt_or_404(payment)
        return render(request, self.template_name, {"receipt": receipt, "payment": payment})


class PaymentReceiptPdfView(ClientPaymentsMixin, View):
    """The same receipt as a PDF download."""

    def get(self, request, pk: int):
        payment = selectors.client_payment_get(organization_id=self.organization_id, pk=pk)
        return receipts.receipt_pdf_response(receipts.receipt_or_404(payment))


class PaymentMethodsView(ClientPaymentsMixin, View):
    """The organization's saved methods: add a card, set the default, remove."""

    template_name = "payments/methods.html"

    def get(self, request, status: int = 200, error: str = ""):
        methods = selectors.saved_methods(organization_id=self.organization_id) if self.organization_id else []
        context = {
            "methods": methods,
            "error": error,
            "sepa_mandate": services.sepa_mandate_text(),
            **self.browser_config(),
        }
        return render(request, self.template_name, context, status=status)

    def post(self, request):
        if self.organization is None:
            raise Http404("No organization to add a payment method to.")
        form = MethodSaveForm(request.POST)
        if not form.is_valid():
            return self.get(request, status=400, error=_("Enter the payment method's details, then add it."))
        data = form.cleaned_data
        mandate = None
        if data["kind"] == MethodKind.SEPA_DEBIT:
            if not data["mandate_accepted"]:
                return self.get(request, status=400, error=services.MANDATE_REQUIRED)
            mandate = services.MandateAcceptance(
                text=services.sepa_mandate_text(),
                accepted_at=timezone.now(),
                ip_address=client_address(request),
                user_agent=request.headers.get("User-Agent", ""),
            )
        try:
            method = services.method_save_from_setup(
                organization=self.organization,
                actor=request.user,
                setup_id=data["setup_id"],
                save=True,
                mandate=mandate,
            )
        except (services.PaymentRefused, services.PaymentsUnavailable) as exc:
            return self.get(request, status=400, error=str(exc))
        except IntegrationError as exc:
            return self.get(
                request, status=502, error=_("The payment method could not be saved: %(error)s") % {"error": exc}
            )
        messages.success(request, _("%(method)s was added.") % {"method": method.label})
        return redirect("client-payments:methods")


class MethodDefaultView(ClientPaymentsMixin, View):
    def post(self, request, pk: int):
        method = selectors.client_method_get(organization_id=self.organization_id, pk=pk)
        try:
            services.method_set_default(method=method, actor=request.user)
        except services.PaymentRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("%(method)s is now your default payment method.") % {"method": method.label})
        return redirect("client-payments:methods")


class MethodRemoveView(ClientPaymentsMixin, View):
    def post(self, request, pk: int):
        method = selectors.client_method_get(organization_id=self.organization_id, pk=pk)
        try:
            services.method_remove(method=method, actor=request.user)
        except (services.PaymentRefused, services.PaymentsUnavailable) as exc:
            messages.error(request, str(exc))
        except IntegrationError as exc:
            messages.error(
                request, _("%(method)s could not be removed: %(error)s") % {"method": method.label, "error": exc}
            )
        else:
            messages.success(request, _("%(method)s was removed.") % {"method": method.label})
        return redirect(reverse("client-payments:methods"))


# --- Autopay ---------------------------------------------------------------------------------


class ClientAutopayMixin(ClientPaymentsMixin):
    def rule_form(self, data=None, initial=None) -> AutopayRuleForm:
        return AutopayRuleForm(
            data,
            initial=initial,
            organization_id=self.organization_id or 0,
            staff=False,
            statuses=selectors.invoice_statuses(),
        )


class AutopayView(ClientAutopayMixin, View):
    """The organization's rules in order, and a form to add one on a saved method."""

    template_name = "payments/client_autopay.html"

    def get(self, request, form=None, status: int = 200):
        context = {
            "rules": selectors.organization_rules(organization_id=self.organization_id),
            "form": form or self.rule_form(),
            "has_methods": bool(self.organization_id)
            and selectors.saved_methods(organization_id=self.organization_id).exists(),
            "staff": False,
        }
        return render(request, self.template_name, context, status=status)

    def post(self, request):
        if self.organization is None:
            raise Http404("No organization to set autopay for.")
        form = self.rule_form(request.POST)
        if not form.is_valid():
            return self.get(request, form=form, status=400)
        try:
            autopay.rule_create(organization=self.organization, actor=request.user, by_client=True, **form.cleaned_data)
        except services.PaymentRefused as exc:
            form.add_error(None, str(exc))
            return self.get(request, form=form, status=400)
        messages.success(request, _("Autopay is on: the rule was added."))
        return redirect("client-payments:autopay")


class AutopayRuleView(ClientAutopayMixin, View):
    """One rule: the form to change it, or (locked by the MSP) what it does, read-only."""

    template_name = "payments/client_autopay_rule.html"

    def get(self, request, pk: int, form=None, status: int = 200):
        rule = selectors.rule_get(organization_id=self.organization_id, pk=pk)
        if form is None and not rule.locked:
            form = self.rule_form(initial=AutopayRuleForm.initial_of(rule))
        return render(request, self.template_name, {"rule": rule, "form": form, "staff": False}, status=status)

    def post(self, request, pk: int):
        rule = selectors.rule_get(organization_id=self.organization_id, pk=pk)
        form = self.rule_form(request.POST)
        if not form.is_valid():
            return self.get(request, pk, form=form, status=400)
        try:
            autopay.rule_update(rule=rule, actor=request.user, by_client=True, **form.cleaned_data)
        except services.PaymentRefused as exc:
            messages.error(request, str(exc))
            return redirect("client-payments:autopay")
        messages.success(request, _("The autopay rule was saved."))
        return redirect("client-payments:autopay")


class AutopayRuleMoveView(ClientAutopayMixin, View):
    def post(self, request, pk: int):
        rule = selectors.rule_get(organization_id=self.organization_id, pk=pk)
        try:
            autopay.rule_move(rule=rule, actor=request.user, by_client=True, direction=request.POST.get("direction"))
        except services.PaymentRefused as exc:
            messages.error(request, str(exc))
        return redirect("client-payments:autopay")


class AutopayRuleDeleteView(ClientAutopayMixin, View):
    def post(self, request, pk: int):
        rule = selectors.rule_get(organization_id=self.organization_id, pk=pk)
        try:
            autopay.rule_delete(rule=rule, actor=request.user, by_client=True)
        except services.PaymentRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("The autopay rule was deleted."))
        return redirect("client-payments:autopay")
