"""Stripe settings: the secret key and webhook signing secret are stored encrypted and never
rendered back (an empty field on edit keeps the stored one); the publishable key is public by
design (Stripe.js uses it in the browser) and stays in the configuration."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

_SECRET_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]+$")
_PUBLISHABLE_KEY = re.compile(r"^pk_(test|live)_[A-Za-z0-9_]+$")
_WEBHOOK_SECRET = re.compile(r"^whsec_[A-Za-z0-9_+/=]+$")


def key_mode(key: str) -> str:
    """``test`` or ``live`` from a Stripe key's prefix; "" when it does not say."""
    parts = key.split("_")
    return parts[1] if len(parts) > 2 and parts[1] in ("test", "live") else ""


def webhook_url() -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("payments:stripe-webhook")


class StripeSettingsForm(forms.Form):
    security_role_checklist: list[str] = []  # BMS only: the settings page shows none for Stripe

    publishable_key = forms.CharField(
        label=gettext_lazy("Publishable key"),
        max_length=255,
        help_text=gettext_lazy("Starts with pk_test_ or pk_live_. Stripe.js uses it in the client's browser."),
    )
    secret_key = forms.CharField(
        label=gettext_lazy("Secret key"),
        max_length=255,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    webhook_secret = forms.CharField(
        label=gettext_lazy("Webhook signing secret"),
        max_length=255,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    def __init__(
        self, *args, stored_secrets: frozenset[str] = frozenset(), stored_config: dict | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.stored_secrets = stored_secrets
        self.stored_config = stored_config or {}
        if "secret_key" in stored_secrets:
            self.fields["secret_key"].help_text = _("A secret key is stored. Leave this empty to keep it.")
        else:
            self.fields["secret_key"].help_text = _(
                "Starts with sk_test_, sk_live_ or rk_ (a restricted key). It is stored encrypted."
            )
        where = webhook_url()
        if "webhook_secret" in stored_secrets:
            self.fields["webhook_secret"].help_text = _(
                "A signing secret is stored. Leave this empty to keep it. Webhook endpoint: %(url)s"
            ) % {"url": where}
        else:
            self.fields["webhook_secret"].help_text = _(
                "In Stripe, add a webhook endpoint for %(url)s (events payment_intent.* and charge.refunded), "
                "then paste its signing secret (whsec_...). It is stored encrypted."
            ) % {"url": where}

    def clean_publishable_key(self) -> str:
        key = self.cleaned_data["publishable_key"].strip()
        if key.startswith(("sk_", "rk_")):
            # Never echo a secret back into the page: the field is shown empty.
            self.data = self.data.copy()
            self.data[self.add_prefix("publishable_key")] = ""
            raise forms.ValidationError(_("That is a secret key: put it in Secret key, and the pk_ key here."))
        if not _PUBLISHABLE_KEY.match(key):
            raise forms.ValidationError(_("A publishable key starts with pk_test_ or pk_live_."))
        return key

    def clean_secret_key(self) -> str:
        key = self.cleaned_data.get("secret_key") or ""
        if not key:
            if "secret_key" not in self.stored_secrets:
                raise forms.ValidationError(_("Enter the secret key."))
            return ""
        if key.startswith("pk_"):
            raise forms.ValidationError(_("That is the publishable key: the secret key starts with sk_ or rk_."))
        if not _SECRET_KEY.match(key):
            raise forms.ValidationError(_("A secret key starts with sk_test_, sk_live_, rk_test_ or rk_live_."))
        return key

    def clean_webhook_secret(self) -> str:
        secret = self.cleaned_data.get("webhook_secret") or ""
        if not secret:
            if "webhook_secret" not in self.stored_secrets:
                raise forms.ValidationError(_("Enter the webhook signing secret."))
            return ""
        if not _WEBHOOK_SECRET.match(secret):
            raise forms.ValidationError(_("A webhook signing secret starts with whsec_."))
        return secret

    def clean(self):
        cleaned = super().clean()
        publishable = cleaned.get("publishable_key")
        if not publishable:
            return cleaned
        mode = key_mode(publishable)
        secret = cleaned.get("secret_key")
        if secret and key_mode(secret) != mode:
            self.add_error(
                "secret_key",
                _("The publishable key is a test key: use the test secret key too.")
                if mode == "test"
                else _("The publishable key is a live key: use the live secret key too."),
            )
        moved = self.stored_config.get("publishable_key") not in (None, publishable)
        if moved and "secret_key" in self.stored_secrets and not secret:
            # The stored secret only ever goes with the account it was entered for.
            self.add_error("secret_key", _("Enter the secret key again: the publishable key changed."))
        if moved and "webhook_secret" in self.stored_secrets and not cleaned.get("webhook_secret"):
            self.add_error("webhook_secret", _("Enter the webhook signing secret again: the publishable key changed."))
        cleaned["mode"] = mode
        return cleaned
