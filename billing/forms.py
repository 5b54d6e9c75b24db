from django import forms

from billing.selectors import INVOICE_STATES
from organizations.models import Organization


class InvoiceFilterForm(forms.Form):
    q = forms.CharField(label="Invoice number", required=False, max_length=100)
    state = forms.ChoiceField(label="Status", required=False, choices=[("", "All"), *INVOICE_STATES.items()])
    organization = forms.ModelChoiceField(
        label="Organization",
        required=False,
        empty_label="All organizations",
        queryset=Organization.objects.filter(deleted_at__isnull=True).order_by("name"),
    )
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault(
                "class", "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date_from") and cleaned.get("date_to") and cleaned["date_from"] > cleaned["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def full_clean(self):
        """Mark each field with an error for Bootstrap (is-invalid). Django adds aria-invalid
        and points aria-describedby at ``<id>_error``, the message's id in the template."""
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
