from django import forms
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm


class _Bootstrap:
    def _style(self):
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")


class InvitationPasswordForm(_Bootstrap, SetPasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = "Choose a password"
        self.fields["new_password2"].label = "Repeat the password"
        self._style()


class PortalPasswordResetForm(_Bootstrap, PasswordResetForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "E-mail"
        self._style()


class PortalSetPasswordForm(InvitationPasswordForm):
    pass


class AccessRequestForm(_Bootstrap, forms.Form):
    full_name = forms.CharField(label="Your name", max_length=200)
    email = forms.EmailField(label="Work e-mail", max_length=254)
    company = forms.CharField(label="Company", max_length=200, required=False)
    message = forms.CharField(
        label="Message (optional)", max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()
