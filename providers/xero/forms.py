import re

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from providers.xero.oauth import redirect_uri

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def payment_account_ref(value: str) -> dict[str, str]:
    """The configured payment account as Xero's reference: ``{"account_id": ...}`` for an id,
    else ``{"account_code": ...}``."""
    value = (value or "").strip()
    return {"account_id": value.lower()} if _GUID.match(value) else {"account_code": value}


class XeroSettingsForm(forms.Form):
    client_id = forms.CharField(
        label=gettext_lazy("Client ID"),
        max_length=100,
        help_text=gettext_lazy("From your app at developer.xero.com (My Apps > your app > Configuration)."),
    )
    client_secret = forms.CharField(
        label=gettext_lazy("Client Secret"),
        max_length=200,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    payment_account = forms.CharField(
        label=gettext_lazy("Payment account"),
        max_length=100,
        help_text=gettext_lazy(
            "The Xero account portal payments are posted to: its code (e.g. 615) or its ID. Use a clearing "
            "account like Undeposited Funds (with “Enable payments to this account” ticked) or a bank account."
        ),
    )
    scope_set = forms.ChoiceField(
        label=gettext_lazy("Xero app scopes"),
        choices=[
            ("granular", gettext_lazy("Granular scopes (apps created from 2 March 2026)")),
            ("broad", gettext_lazy("Broad scopes (apps created before 2 March 2026)")),
        ],
        initial="granular",
        help_text=gettext_lazy(
            "Which permissions Connect asks for; Xero offers apps created before March 2026 the broad ones."
        ),
    )
    redirect_uri = forms.CharField(
        label=gettext_lazy("Redirect URI"),
        required=False,
        disabled=True,
        help_text=gettext_lazy("Copy this into your app's redirect URIs at developer.xero.com. It is not saved here."),
    )

    def __init__(
        self, *args, stored_secrets: frozenset[str] = frozenset(), stored_config: dict | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.has_stored_secret = "client_secret" in stored_secrets
        self.stored_config = stored_config or {}
        self.fields["redirect_uri"].initial = redirect_uri()
        self.fields["redirect_uri"].widget.attrs.update({"readonly": True, "data-testid": "xero-redirect-uri"})
        if self.has_stored_secret:
            self.fields["client_secret"].help_text = _("A client secret is stored. Leave this empty to keep it.")
        else:
            self.fields["client_secret"].help_text = _("From the same page. It is stored encrypted.")

    def clean_client_id(self) -> str:
        value = self.cleaned_data["client_id"].strip()
        if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise forms.ValidationError(_("A Xero Client ID has only letters and digits, e.g. 32 hex characters."))
        return value

    def clean_client_secret(self) -> str:
        secret = self.cleaned_data.get("client_secret") or ""
        if not secret and not self.has_stored_secret:
            raise forms.ValidationError(_("Enter the app's Client Secret."))
        return secret

    def clean_payment_account(self) -> str:
        value = self.cleaned_data["payment_account"].strip()
        if not (_GUID.match(value) or re.fullmatch(r"[A-Za-z0-9._-]{1,10}", value)):
            raise forms.ValidationError(
                _("Enter the account's code (up to 10 characters, e.g. 615) or its ID (a GUID).")
            )
        return value

    def clean(self):
        cleaned = super().clean()
        cleaned.pop("redirect_uri", None)  # shown, never stored
        # The stored secret belongs to the stored Client ID: another app needs its own.
        moved = "client_id" in cleaned and self.stored_config.get("client_id") not in (None, cleaned["client_id"])
        if self.has_stored_secret and moved and not cleaned.get("client_secret"):
            self.add_error("client_secret", _("Enter the Client Secret again: the Client ID changed."))
        return cleaned
