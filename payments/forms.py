from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from organizations.models import Contract, Organization
from payments.autopay import STAFF_ONLY_FIELDS as AUTOPAY_STAFF_ONLY_FIELDS
from payments.models import AutopayTiming, MethodKind, PaymentMethod, PaymentStatus
from payments.selectors import organization_contracts, saved_methods

SETUP_ID = r"^seti_[A-Za-z0-9_]+$"


def new_attempt_token() -> str:
    """One per rendered form: a double submit carries the same token, so it is one payment."""
    return secrets.token_urlsafe(16)


class PayForm(forms.Form):
    """What the pay page posts. Amounts arrive as ``amount-<invoice id>`` fields, read by
    ``amounts`` against the invoices on the page."""

    attempt = forms.CharField(max_length=64, widget=forms.HiddenInput)
    method = forms.CharField(max_length=20)  # a saved method's pk, or "new"
    setup_id = forms.RegexField(regex=SETUP_ID, required=False, max_length=255, widget=forms.HiddenInput)
    save_card = forms.BooleanField(required=False, label=gettext_lazy("Save this card for future payments"))
    # The card surcharge the page showed before Pay (empty: none); what is charged must match it.
    surcharge_shown = forms.DecimalField(
        required=False, min_value=Decimal("0"), max_digits=14, decimal_places=3, widget=forms.HiddenInput
    )

    def clean(self):
        cleaned = super().clean()
        method = cleaned.get("method")
        if method == "new":
            if not cleaned.get("setup_id"):
                raise forms.ValidationError(_("Enter the card details, then Pay."))
        elif method and not method.isdigit():
            raise forms.ValidationError(_("Choose a payment method."))
        return cleaned


def parse_amount(raw: str | None) -> Decimal | None:
    """``"1,234.50"`` -> Decimal("1234.50"); None when it is no amount."""
    text = (raw or "").strip().replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value.as_tuple().exponent < -3:
        return None
    return value


class MethodSaveForm(forms.Form):
    setup_id = forms.RegexField(regex=SETUP_ID, max_length=255, widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=MethodKind.choices, required=False, widget=forms.HiddenInput)
    # A bank account (SEPA): the client ticked the box under the mandate text.
    mandate_accepted = forms.BooleanField(required=False)


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        min_value=Decimal("0.01"), max_digits=14, decimal_places=2, label=gettext_lazy("Amount")
    )
    reason = forms.CharField(max_length=500, label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 2}))
    token = forms.CharField(max_length=64, widget=forms.HiddenInput)


class PaymentFilterForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.filter(deleted_at__isnull=True).only("id", "name"),
        required=False,
        empty_label=gettext_lazy("Any organization"),
    )
    status = forms.ChoiceField(required=False, choices=[("", gettext_lazy("Any status")), *PaymentStatus.choices])
    method = forms.ChoiceField(
        required=False, choices=[("", gettext_lazy("Any method")), *MethodKind.choices], label=gettext_lazy("Method")
    )
    date_from = forms.DateField(
        required=False, label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(required=False, label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}))


class AutopayRuleForm(forms.Form):
    """One autopay rule, as staff (``staff=True``: may lock it and make it wait for approval)
    or the client edit it. Methods and contracts are the organization's only."""

    method = forms.ModelChoiceField(
        queryset=PaymentMethod.objects.none(), label=gettext_lazy("Pay with"), empty_label=None
    )
    timing = forms.ChoiceField(choices=AutopayTiming.choices, label=gettext_lazy("When"))
    days = forms.IntegerField(
        min_value=0, max_value=365, initial=0, label=gettext_lazy("Days (or the day of the month)")
    )
    contract = forms.ModelChoiceField(
        queryset=Contract.objects.none(),
        required=False,
        empty_label=gettext_lazy("Any contract"),
        label=gettext_lazy("Contract"),
    )
    max_amount = forms.DecimalField(
        required=False, min_value=Decimal("0.01"), max_digits=14, decimal_places=2, label=gettext_lazy("Amount at most")
    )
    invoice_status = forms.ChoiceField(required=False, label=gettext_lazy("Invoice status"))
    enabled = forms.BooleanField(required=False, initial=True, label=gettext_lazy("On"))
    locked = forms.BooleanField(required=False, label=gettext_lazy("Locked (the client cannot change it)"))
    requires_approval = forms.BooleanField(required=False, label=gettext_lazy("Charges wait for approval"))

    def __init__(self, *args, organization_id: int, staff: bool, statuses: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["method"].queryset = saved_methods(organization_id=organization_id)
        self.fields["contract"].queryset = organization_contracts(organization_id=organization_id)
        current = self.initial.get("invoice_status") or ""
        choices = [("", _("Any status")), *((s, s) for s in statuses)]
        if current and current not in statuses:
            choices.append((current, current))
        self.fields["invoice_status"].choices = choices
        if not staff:
            for name in AUTOPAY_STAFF_ONLY_FIELDS:
                del self.fields[name]
        for field in self.fields.values():
            if isinstance(field.widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(field, forms.ChoiceField):
                css = "form-select"
            else:
                css = "form-control"
            field.widget.attrs.setdefault("class", css)

    def clean(self):
        cleaned = super().clean()
        timing, days = cleaned.get("timing"), cleaned.get("days")
        if timing == AutopayTiming.DAY_OF_MONTH and days is not None and not 1 <= days <= 31:
            self.add_error("days", _("A day of the month is between 1 and 31."))
        return cleaned

    @classmethod
    def initial_of(cls, rule) -> dict:
        return {
            "method": rule.method_id,
            "timing": rule.timing,
            "days": rule.days,
            "contract": rule.contract_id,
            "max_amount": rule.max_amount,
            "invoice_status": rule.invoice_status,
            "enabled": rule.enabled,
            "locked": rule.locked,
            "requires_approval": rule.requires_approval,
        }


class AutopayDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            ("approve", gettext_lazy("Approve")),
            ("skip", gettext_lazy("Skip")),
            ("reschedule", gettext_lazy("Reschedule")),
        ]
    )
    charge_on = forms.DateField(
        required=False, label=gettext_lazy("New date"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "reschedule" and not cleaned.get("charge_on"):
            self.add_error("charge_on", _("Choose the day to charge it."))
        return cleaned


class CalendarMonthForm(forms.Form):
    month = forms.RegexField(regex=r"^\d{4}-(0[1-9]|1[0-2])$", required=False)
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.filter(deleted_at__isnull=True).only("id", "name"),
        required=False,
        empty_label=gettext_lazy("Every organization"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
