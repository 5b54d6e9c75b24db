from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from integrations.capabilities import TicketLookups
from notifications import selectors
from notifications.models import NotificationSettings
from notifications.selectors import LookupUnavailable
from notifications.ticket_config import TICKET_FIELDS, OwnAccount, ticket_config_validate
from notifications.types import SPECS, NotificationKind
from organizations.models import Organization


def _select(options, empty_label: str, current: int | None = None) -> forms.Select:
    choices = [("", empty_label)] + [(o.id, o.name) for o in options]
    if current is not None and current not in {o.id for o in options}:
        choices.append((current, _("id %(id)s (no longer offered by BMS)") % {"id": current}))
    return forms.Select(choices=choices, attrs={"class": "form-select"})


class NotificationSettingsForm(forms.Form):
    """The check boxes per type, the staff recipients and the Service Ticket Configuration,
    saved together. The ticket fields exist only while BMS's lists could be loaded."""

    staff_recipients = forms.CharField(
        required=False,
        label=_("Staff recipients"),
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control", "placeholder": "billing@msp.example"}),
        help_text=_(
            "E-mail addresses of the MSP's staff for internal notifications, one per line or comma-separated. "
            "Empty: every Master Admin."
        ),
    )

    def __init__(
        self,
        *args,
        installation=None,
        lookups: TicketLookups | None = None,
        config: NotificationSettings,
        preferences,
        sub_issue_options=(),
        psa_own_account: OwnAccount | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.installation = installation
        self.lookups = lookups
        self.config = config
        self.ticket_names: dict[str, str] = {}
        for kind, pref in preferences.items():
            self.fields[f"email_{kind}"] = forms.BooleanField(required=False, initial=pref.email_enabled)
            self.fields[f"ticket_{kind}"] = forms.BooleanField(required=False, initial=pref.ticket_enabled)
        self.fields["staff_recipients"].initial = config.staff_recipients
        self.has_ticket_fields = installation is not None and lookups is not None
        if not self.has_ticket_fields:
            return
        int_field = dict(required=False, min_value=0)
        self.fields["queue_id"] = forms.IntegerField(
            label=_("Destination"), **int_field, widget=_select(lookups.queues, _("No queue"), config.queue_id)
        )
        self.fields["priority_id"] = forms.IntegerField(
            label=_("Priority"),
            **int_field,
            widget=_select(lookups.priorities, _default_label(lookups, "priorities"), config.priority_id),
        )
        self.fields["issue_type_id"] = forms.IntegerField(
            label=_("Issue Type"),
            **int_field,
            widget=_select(lookups.issue_types, _("No issue type"), config.issue_type_id),
        )
        self.fields["sub_issue_type_id"] = forms.IntegerField(
            label=_("Sub-Issue Type"),
            **int_field,
            widget=_select(sub_issue_options, _("No sub-issue type"), self._chosen("sub_issue_type_id")),
        )
        self.fields["status_id"] = forms.IntegerField(
            label=_("Status"),
            **int_field,
            widget=_select(lookups.statuses, _default_label(lookups, "statuses"), config.status_id),
        )
        self.fields["ticket_type_id"] = forms.IntegerField(
            label=_("Ticket Type"),
            **int_field,
            widget=_select(lookups.ticket_types, _default_label(lookups, "ticket_types"), config.ticket_type_id),
        )
        self.fields["ticket_type_manual"] = forms.IntegerField(
            label=_("Ticket Type id (manual)"),
            required=False,
            min_value=1,
            widget=forms.NumberInput(attrs={"class": "form-control", "placeholder": "id"}),
        )
        self.fields["source_id"] = forms.IntegerField(
            label=_("Source"),
            **int_field,
            widget=_select(lookups.sources, _default_label(lookups, "sources"), config.source_id),
        )
        self.fields["source_manual"] = forms.IntegerField(
            label=_("Source id (manual)"),
            required=False,
            min_value=0,
            widget=forms.NumberInput(attrs={"class": "form-control", "placeholder": "id"}),
        )
        accounts = selectors.internal_account_choices()
        psa_id = psa_own_account.account_id if psa_own_account is not None else None
        if psa_id is not None:
            name = dict(accounts).get(psa_id, _("BMS account %(id)s") % {"id": psa_id})
            unset_label = _("BMS default: %(name)s, the BMS API user's account") % {"name": name}
        else:
            unset_label = _("Not set")
        self.fields["internal_account_id"] = forms.IntegerField(
            label=_("MSP's own BMS account"),
            required=False,
            min_value=1,
            widget=forms.Select(choices=[("", unset_label)] + accounts, attrs={"class": "form-select"}),
            help_text=_(
                "Internal notifications (Sync Failed, Sync Not Running; Portal Access Requested without an "
                'organization) create their tickets on this account. "BMS default" is the account of the API user '
                "the portal signs in as, as BMS states it."
            ),
        )
        for name in TICKET_FIELDS:
            self.fields[name].initial = getattr(config, name)

    def _chosen(self, name: str) -> int | None:
        """The field's value on the page: the posted one when bound (kept through an error), else saved."""
        if not self.is_bound:
            return getattr(self.config, name)
        posted = str(self.data.get(name, ""))
        return int(posted) if posted.isdigit() else None

    def clean_staff_recipients(self):
        raw = self.cleaned_data.get("staff_recipients", "")
        emails = [e.strip() for e in raw.replace(";", ",").replace("\n", ",").split(",") if e.strip()]
        bad = []
        for email in emails:
            try:
                validate_email(email)
            except ValidationError:
                bad.append(email)
        if bad:
            raise ValidationError(_("Not a valid e-mail address: %(emails)s") % {"emails": ", ".join(bad)})
        return "\n".join(emails)

    def clean(self):
        data = super().clean()
        if not self.has_ticket_fields or self.errors:
            return data
        if data.get("ticket_type_manual") is not None:
            data["ticket_type_id"] = data["ticket_type_manual"]
        if data.get("source_manual") is not None:
            data["source_id"] = data["source_manual"]
        try:
            errors, names = ticket_config_validate(installation=self.installation, fields=self.ticket_fields())
        except LookupUnavailable as exc:
            raise ValidationError(
                _("%(problem)s Nothing was saved; try again when BMS answers.") % {"problem": exc}
            ) from exc
        for field, message in errors.items():
            self.add_error(field, message)
        self.ticket_names = names
        return data

    def ticket_fields(self) -> dict[str, int | None]:
        return {name: self.cleaned_data.get(name) for name in TICKET_FIELDS}

    def preferences(self) -> dict[str, tuple[bool, bool]]:
        return {kind: (self.cleaned_data[f"email_{kind}"], self.cleaned_data[f"ticket_{kind}"]) for kind in SPECS}

    def rows(self):
        """(spec, email field, ticket field) per type, in the table's order."""
        return [(SPECS[k], self[f"email_{k}"], self[f"ticket_{k}"]) for k in NotificationKind.values]


def _default_label(lookups: TicketLookups, attr: str) -> str:
    default = lookups.default_id(attr)
    name = lookups.names(attr).get(default) if default is not None else None
    return _("BMS default (%(name)s)") % {"name": name} if name else _("Not set")


class TestNotificationForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Notification type"),
        choices=NotificationKind.choices,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    organization = forms.ChoiceField(
        label=_("Organization"), required=False, widget=forms.Select(attrs={"class": "form-select"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        orgs = Organization.objects.filter(deleted_at__isnull=True).order_by("name").values_list("pk", "name", "bms_id")
        self.fields["organization"].choices = [("", _("None (internal)"))] + [
            (str(pk), name) for pk, name, _bms_id in orgs
        ]
        # By default one whose ticket can be created: an organization with a BMS account (internal
        # types go on the MSP's own account whatever is chosen).
        self.fields["organization"].initial = next((str(pk) for pk, _name, bms_id in orgs if bms_id), "")

    def clean_organization(self):
        value = self.cleaned_data.get("organization")
        if not value:
            return None
        org = Organization.objects.filter(pk=value, deleted_at__isnull=True).first()
        if org is None:
            raise ValidationError(_("Choose an organization from the list."))
        return org
