from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation

from django import forms

from organizations.models import Organization
from payments.models import MethodKind, PaymentStatus

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
    save_card = forms.BooleanField(required=False, label="Save this card for future payments")

    def clean(self):
        cleaned = super().clean()
        method = cleaned.get("method")
        if method == "new":
            if not cleaned.get("setup_id"):
                raise forms.ValidationError("Enter the card details, then Pay.")
        elif method and not method.isdigit():
            raise forms.ValidationError("Choose a payment method.")
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


class RefundForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=14, decimal_places=2, label="Amount")
    reason = forms.CharField(max_length=500, label="Reason", widget=forms.Textarea(attrs={"rows": 2}))
    token = forms.CharField(max_length=64, widget=forms.HiddenInput)


class PaymentFilterForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.filter(deleted_at__isnull=True).only("id", "name"),
        required=False,
        empty_label="Any organization",
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *PaymentStatus.choices])
    method = forms.ChoiceField(required=False, choices=[("", "Any method"), *MethodKind.choices], label="Method")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
