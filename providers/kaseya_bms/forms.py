from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from providers.kaseya_bms.server_url import InvalidServerUrl, normalize_server_url

# What the portal's BMS calls need, in the order Test Connection checks it
# (installation._AREAS): CRM, Finance and ServiceDesk endpoints, and the Admin lookups.
SECURITY_ROLE_CHECKLIST = [
    "CRM: View All",
    "Finance: View All, Modify All",
    "ServiceDesk: View All, Modify All",
    "Admin: View All, with Special Features > Has API Access",
    gettext_lazy("An API Employee user with this Internal role (an API Employee cannot have an External role)"),
]
SECURITY_ROLE_NOTE = gettext_lazy(
    "Test Connection checks each of these. Home and Projects, which some billing tools ask for, "
    "are not needed: the portal calls no Home or Projects endpoint."
)


class KaseyaBmsSettingsForm(forms.Form):
    security_role_checklist = SECURITY_ROLE_CHECKLIST
    security_role_note = SECURITY_ROLE_NOTE

    company_name = forms.CharField(
        label=gettext_lazy("Company Name"),
        max_length=100,
        help_text=gettext_lazy("The BMS tenant name, as shown on your My Profile page in BMS."),
    )
    username = forms.CharField(
        label=gettext_lazy("Username"), max_length=150, help_text=gettext_lazy("The API Employee user's login.")
    )
    password = forms.CharField(
        label=gettext_lazy("Password"),
        max_length=200,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    server_url = forms.CharField(
        label=gettext_lazy("Server URL"),
        max_length=200,
        help_text=gettext_lazy("Your BMS API server, e.g. api.bms.kaseya.com (US) or api.bmsemea.kaseya.com (EMEA)."),
    )

    def __init__(
        self, *args, stored_secrets: frozenset[str] = frozenset(), stored_config: dict | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        has_stored_password = "password" in stored_secrets
        self.has_stored_password = has_stored_password
        self.stored_config = stored_config or {}
        if has_stored_password:
            self.fields["password"].help_text = _("A password is stored. Leave this empty to keep it.")
        else:
            self.fields["password"].help_text = _("The API Employee user's password. It is stored encrypted.")

    def clean_company_name(self) -> str:
        return self.cleaned_data["company_name"].strip()

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip()

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password") or ""
        if not password and not self.has_stored_password:
            raise forms.ValidationError(_("Enter the API user's password."))
        return password

    def clean(self):
        cleaned = super().clean()
        # The stored password only ever goes to the server, tenant and user it was entered for.
        identity = ("server_url", "company_name", "username")  # the provider's identity_fields
        moved = any(name in cleaned and self.stored_config.get(name) not in (None, cleaned[name]) for name in identity)
        if self.has_stored_password and moved and not cleaned.get("password"):
            self.add_error("password", _("Enter the password again: the server, company or username changed."))
        return cleaned

    def clean_server_url(self) -> str:
        try:
            return normalize_server_url(
                self.cleaned_data["server_url"], allowed_insecure_hosts=settings.BMS_ALLOWED_INSECURE_HOSTS
            )
        except InvalidServerUrl as exc:
            raise forms.ValidationError(str(exc)) from None
