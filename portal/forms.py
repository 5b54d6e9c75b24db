from django import forms
from django.contrib.auth.forms import PasswordChangeForm
from django.utils.translation import gettext_lazy as _

from accounts import login_throttle
from accounts.forms import BootstrapFields, PortalSetPasswordForm, ThrottledAuthenticationForm
from billing.selectors import INVOICE_STATES


class InvitationPasswordForm(PortalSetPasswordForm):
    """The invited contact chooses a password (as after a password reset)."""


class ProfilePasswordForm(BootstrapFields, PasswordChangeForm):
    """A signed-in contact changes their password: the current one first, then a new one the
    password validators accept. Wrong current passwords count as failed sign-ins do (the
    same counters, accounts.login_throttle): the form cannot be used to guess around the limit."""

    error_messages = {
        **PasswordChangeForm.error_messages,
        "password_incorrect": _("That is not your current password."),
    }

    def __init__(self, user, *args, client_address: str, **kwargs):
        self.client_address = client_address
        super().__init__(user, *args, **kwargs)
        self.fields["old_password"].label = _("Current password")
        self.fields["new_password1"].label = _("New password")
        self.fields["new_password2"].label = _("Repeat the new password")
        self._style()

    def clean_old_password(self):
        email = self.user.email
        if login_throttle.is_locked_out(email, self.client_address):
            raise forms.ValidationError(ThrottledAuthenticationForm.error_messages["locked_out"], code="locked_out")
        try:
            return super().clean_old_password()
        except forms.ValidationError:
            login_throttle.record_failure(email, self.client_address)
            raise


class AccessRequestForm(BootstrapFields, forms.Form):
    full_name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.EmailField(label=_("Work e-mail"), max_length=254)
    company = forms.CharField(label=_("Company (optional)"), max_length=200, required=False)
    message = forms.CharField(
        label=_("Message (optional)"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()


class ClientInvoiceFilterForm(forms.Form):
    q = forms.CharField(label=_("Invoice number"), required=False, max_length=100)
    state = forms.ChoiceField(
        label=_("Show"), required=False, choices=[("", _("All invoices")), *INVOICE_STATES.items()]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update(
            {"class": "form-control", "placeholder": "Search by number", "type": "search"}
        )
        self.fields["state"].widget.attrs["class"] = "form-select"
