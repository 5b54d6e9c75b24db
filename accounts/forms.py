from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.utils.translation import gettext_lazy as _

from accounts import login_throttle
from accounts.models import Role
from accounts.services import audit_record
from core.client_address import client_address


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, refusing further attempts after too many failures from the
    client's address (accounts.login_throttle)."""

    username = forms.EmailField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autofocus": True}))

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("That e-mail address and password do not match an active account."),
        "locked_out": _("Too many failed sign-in attempts. Wait 15 minutes and try again."),
    }

    def clean(self):
        email = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request else "unknown"
        if login_throttle.is_locked_out(email, address):
            _audit_failure(email, address, reason="locked out")
            raise forms.ValidationError(self.error_messages["locked_out"], code="locked_out")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            locked = login_throttle.record_failure(email, address)
            _audit_failure(email, address, reason="wrong e-mail or password, or inactive account")
            if locked:
                audit_record(
                    actor=None,
                    action="accounts.signin.lockout",
                    target=email[:200],
                    summary=f"Sign-in locked for {settings.LOGIN_LOCKOUT_SECONDS // 60} minutes: repeated failures",
                    address=address,
                )
            raise
        login_throttle.clear_failures(email, address)
        return cleaned


def _audit_failure(email: str, address: str, *, reason: str) -> None:
    """The entered e-mail and the address only: never the password."""
    if not email:  # not an e-mail address: nothing worth recording (it could be a mistyped password)
        return
    audit_record(
        actor=None,
        action="accounts.signin.failed",
        target=email[:200],
        summary=f"Failed sign-in as {email[:150]}",
        address=address,
        reason=reason,
    )


class BootstrapFields:
    """Gives every field Bootstrap's form-control class; call ``_style()`` after the fields exist."""

    def _style(self):
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")


class PortalPasswordResetForm(BootstrapFields, PasswordResetForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].label = _("E-mail")
        self._style()


class PortalSetPasswordForm(BootstrapFields, SetPasswordForm):
    """Choosing a password: after a reset link, or an invitation (portal.forms)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = _("Choose a password")
        self.fields["new_password2"].label = _("Repeat the password")
        self._style()


STAFF_ROLE_CHOICES = [
    (Role.MASTER_ADMIN.value, Role.MASTER_ADMIN.label),
    (Role.BILLING_STAFF.value, Role.BILLING_STAFF.label),
]


class StaffInviteForm(BootstrapFields, forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    full_name = forms.CharField(label=_("Name (optional)"), max_length=200, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=STAFF_ROLE_CHOICES, initial=Role.BILLING_STAFF.value)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()
        self.fields["role"].widget.attrs["class"] = "form-select"


class StaffRoleForm(forms.Form):
    role = forms.ChoiceField(choices=STAFF_ROLE_CHOICES)
