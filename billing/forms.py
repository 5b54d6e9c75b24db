from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from billing.selectors import INVOICE_STATES
from billing.services import COMMENT_MAX_LENGTH
from organizations.models import Organization


class InvoiceFilterForm(forms.Form):
    q = forms.CharField(label=_("Invoice number"), required=False, max_length=100)
    state = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All")), *INVOICE_STATES.items()])
    organization = forms.ModelChoiceField(
        label=_("Organization"),
        required=False,
        empty_label=_("All organizations"),
        queryset=Organization.objects.filter(deleted_at__isnull=True).order_by("name"),
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault(
                "class", "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date_from") and cleaned.get("date_to") and cleaned["date_from"] > cleaned["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def full_clean(self):
        """Mark each field with an error for Bootstrap (is-invalid). Django adds aria-invalid
        and points aria-describedby at ``<id>_error``, the message's id in the template."""
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()


class InvoiceCommentForm(forms.Form):
    """A client contact's comment on an invoice's thread."""

    noun = "comment"
    required_message = _("Write a comment before sending it.")
    body = forms.CharField(
        label=_("Question or comment about this invoice"),
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control", "maxlength": COMMENT_MAX_LENGTH}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].error_messages["required"] = self.required_message
        self.fields["body"].help_text = self.help_text()

    def help_text(self) -> str:
        return _("The %(msp)s billing team sees your comment and replies here.") % {"msp": settings.MSP_NAME}


class InvoiceReplyForm(InvoiceCommentForm):
    """A staff reply: the client sees it on the invoice page and is e-mailed about it."""

    noun = "reply"
    required_message = _("Write a reply before sending it.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].label = _("Reply to the client")

    def help_text(self) -> str:
        return _("The client sees your reply on this invoice and is e-mailed about it (Invoice Comment Reply).")
