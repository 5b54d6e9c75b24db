from django import forms

from accounts.forms import BootstrapFields, PortalSetPasswordForm
from billing.selectors import INVOICE_STATES


class InvitationPasswordForm(PortalSetPasswordForm):
    """The invited contact chooses a password (as after a password reset)."""


class AccessRequestForm(BootstrapFields, forms.Form):
    full_name = forms.CharField(label="Your name", max_length=200)
    email = forms.EmailField(label="Work e-mail", max_length=254)
    company = forms.CharField(label="Company", max_length=200, required=False)
    message = forms.CharField(
        label="Message (optional)", max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()


class ClientInvoiceFilterForm(forms.Form):
    q = forms.CharField(label="Invoice number", required=False, max_length=100)
    state = forms.ChoiceField(label="Show", required=False, choices=[("", "All invoices"), *INVOICE_STATES.items()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update(
            {"class": "form-control", "placeholder": "Search by number", "type": "search"}
        )
        self.fields["state"].widget.attrs["class"] = "form-select"
