from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, ListView

from accounts.permissions import MasterAdminRequiredMixin, StaffRequiredMixin
from notifications import actions, rendering, selectors
from notifications.forms import NotificationSettingsForm, TestNotificationForm
from notifications.models import Delivery, Notification
from notifications.ticket_config import own_account, psa_own_account
from notifications.types import SPECS, NotificationKind
from organizations.models import Organization


class NotificationSettingsView(StaffRequiredMixin, View):
    """Configurations > Notifications: Master Admin edits, Billing staff views."""

    template_name = "notifications/settings.html"

    def _form(self, data=None):
        installation = selectors.ticket_installation()
        config = selectors.notification_settings_get()
        lookups, lookup_error, subs = None, "", []
        # The sub-issue types of the Issue Type on the page: the posted one when the form comes
        # back with an error, so the chosen Sub-Issue Type stays chosen (and is saved next time).
        issue_type_id = config.issue_type_id
        if data is not None:
            posted = data.get("issue_type_id", "")
            issue_type_id = int(posted) if posted.isdigit() else None
        if installation is not None:
            try:
                lookups = selectors.ticket_lookups(installation)
                if issue_type_id:
                    subs = selectors.sub_issue_types(installation, issue_type_id)
            except selectors.LookupUnavailable as exc:
                lookups, lookup_error = None, str(exc)
        psa_own = psa_own_account(installation) if lookups is not None else None
        form = NotificationSettingsForm(
            data,
            installation=installation,
            lookups=lookups,
            config=config,
            preferences=selectors.preferences_map(),
            sub_issue_options=subs,
            psa_own_account=psa_own,
        )
        own = own_account(config, installation) if config.internal_account_id is not None else psa_own
        return form, {
            "installation": installation,
            "lookup_error": lookup_error,
            "config": config,
            "lookups": lookups,
            "own_account": own,
        }

    def _render(self, request, form, extra, status=200):
        can_edit = request.user.is_master_admin
        if not can_edit:
            for field in form.fields.values():
                field.disabled = True
        return render(request, self.template_name, {"form": form, "can_edit": can_edit, **extra}, status=status)

    def get(self, request):
        form, extra = self._form()
        return self._render(request, form, extra)

    def post(self, request):
        if not request.user.is_master_admin:
            raise PermissionDenied
        form, extra = self._form(request.POST)
        if not form.is_valid():
            messages.error(request, _("Nothing was saved: correct the fields marked below."))
            return self._render(request, form, extra, status=400)
        actions.notification_settings_save(
            actor=request.user,
            preferences=form.preferences(),
            staff_recipients=form.cleaned_data["staff_recipients"],
            ticket_fields=form.ticket_fields() if form.has_ticket_fields else None,
            names=form.ticket_names,
        )
        messages.success(request, _("Notification settings saved."))
        return redirect("notifications:settings")


class SubIssueTypeOptionsView(StaffRequiredMixin, View):
    """The Sub-Issue Type options of one issue type (htmx swaps them into the drop-down)."""

    def get(self, request):
        issue_type = request.GET.get("issue_type_id", "")
        # The Sub-Issue Type chosen so far stays chosen when the new issue type has it too.
        chosen = request.GET.get("sub_issue_type_id", "")
        options = f'<option value="">{escape(_("No sub-issue type"))}</option>'
        installation = selectors.ticket_installation()
        if installation is None or not issue_type.isdigit():
            return HttpResponse(options)
        try:
            subs = selectors.sub_issue_types(installation, int(issue_type))
        except selectors.LookupUnavailable as exc:
            return HttpResponse(f'<option value="">{escape(str(exc))}</option>')
        options += "".join(
            f'<option value="{o.id}"{" selected" if str(o.id) == chosen else ""}>{escape(o.name)}</option>'
            for o in subs
        )
        return HttpResponse(options)


class TestNotificationView(MasterAdminRequiredMixin, View):
    """Send test notification: choose a type and organization, preview, then send."""

    template_name = "notifications/test.html"

    def get(self, request):
        form = TestNotificationForm(request.GET if "kind" in request.GET else None)
        preview = None
        if form.is_bound and form.is_valid():
            preview = rendering.notification_preview(
                form.cleaned_data["kind"], organization=form.cleaned_data["organization"]
            )
        return render(request, self.template_name, {"form": form, "preview": preview})

    def post(self, request):
        form = TestNotificationForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form, "preview": None}, status=400)
        notification = actions.notification_send_test(
            form.cleaned_data["kind"], organization=form.cleaned_data["organization"], actor=request.user
        )
        messages.success(
            request,
            _("Test %(kind)s notification sent: it appears in the log below as it is delivered.")
            % {"kind": notification.get_kind_display()},
        )
        return redirect(reverse("notifications:detail", args=[notification.pk]))


class NotificationLogView(StaffRequiredMixin, ListView):
    template_name = "notifications/log.html"
    paginate_by = 25
    context_object_name = "notifications"

    def get_queryset(self):
        g = self.request.GET
        return selectors.notification_log(
            kind=g.get("kind", ""), status=g.get("status", ""), organization_id=g.get("organization", "")
        )

    def get_context_data(self, **kwargs):
        params = self.request.GET.copy()
        params.pop("page", None)
        return super().get_context_data(
            kinds=NotificationKind.choices,
            statuses=selectors.LOG_STATUS_FILTERS.items(),
            organizations=Organization.objects.filter(
                pk__in=Notification.objects.exclude(organization=None).values("organization")
            ).order_by("name"),
            filters=self.request.GET,
            query_string=params.urlencode(),
            **kwargs,
        )


class NotificationDetailView(StaffRequiredMixin, DetailView):
    template_name = "notifications/detail.html"
    context_object_name = "notification"

    def get_queryset(self):
        return Notification.objects.select_related("organization", "invoice", "actor").prefetch_related("deliveries")

    def get_context_data(self, **kwargs):
        return super().get_context_data(spec=SPECS[self.object.kind], **kwargs)


class DeliveryRetryView(StaffRequiredMixin, View):
    def post(self, request, pk):
        delivery = get_object_or_404(Delivery.objects.select_related("notification"), pk=pk)
        try:
            delivery = actions.delivery_retry(delivery=delivery, actor=request.user)
        except ValueError as exc:
            messages.error(request, str(exc))
        else:
            if delivery.status == "skipped":
                messages.warning(request, delivery.reason)
            else:
                messages.success(request, _("%(channel)s queued again.") % {"channel": delivery.get_channel_display()})
        next_url = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
            next_url = reverse("notifications:detail", args=[delivery.notification_id])
        return redirect(next_url)
