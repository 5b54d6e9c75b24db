from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import DetailView, ListView, TemplateView

from accounts.permissions import MasterAdminRequiredMixin, StaffRequiredMixin
from core.redirects import safe_next
from integrations import selectors, services
from integrations.models import Integration, SyncRun, SyncTrigger
from integrations.registry import get_provider_or_404
from integrations.sync.service import SyncRefused, sync_request


class IntegrationListView(StaffRequiredMixin, TemplateView):
    template_name = "integrations/list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(cards=selectors.integration_cards(), **kwargs)


class IntegrationCardView(StaffRequiredMixin, View):
    """The card alone: polled by htmx while a sync runs, for live progress."""

    def get(self, request, provider_key):
        get_provider_or_404(provider_key)
        return render(request, "integrations/_card.html", {"card": selectors.integration_card_for(provider_key)})


# The form holds the provider's secrets (passwords, API keys): never in an error report.
@method_decorator(sensitive_post_parameters(), name="dispatch")
class IntegrationSettingsView(MasterAdminRequiredMixin, View):
    template_name = "integrations/settings.html"

    def _render(self, request, provider, form, integration):
        labels = [str(form.fields[name].label) for name in provider.identity_fields if name in form.fields]
        identity_labels = ", ".join(labels[:-1]) + f" or {labels[-1]}" if len(labels) > 1 else "".join(labels)
        context = {"provider": provider, "form": form, "integration": integration, "identity_labels": identity_labels}
        return render(request, self.template_name, context)

    def get(self, request, provider_key):
        provider = get_provider_or_404(provider_key)
        integration = Integration.objects.filter(provider_key=provider.key).first()
        return self._render(request, provider, provider.settings_form(integration), integration)

    def post(self, request, provider_key):
        provider = get_provider_or_404(provider_key)
        integration = Integration.objects.filter(provider_key=provider.key).first()
        form = provider.settings_form(integration, request.POST)
        if not form.is_valid():
            return self._render(request, provider, form, integration)
        saved = services.integration_save_settings(
            provider=provider, actor=request.user, cleaned_data=form.cleaned_data
        )
        if integration is not None and integration.tenant_confirmed and not saved.tenant_confirmed:
            messages.warning(
                request,
                _(
                    "%(provider)s settings saved. Syncs are paused until Test Connection confirms which tenant "
                    "they reach; the synced data stays as it is."
                )
                % {"provider": provider.name},
            )
        else:
            messages.success(
                request,
                _("%(provider)s settings saved. Run Test Connection to check them.") % {"provider": provider.name},
            )
        return redirect("integrations:list")


class IntegrationTestView(MasterAdminRequiredMixin, View):
    def post(self, request, provider_key):
        provider = get_provider_or_404(provider_key)
        integration = get_object_or_404(Integration, provider_key=provider.key)
        result = services.integration_test_connection(integration=integration, actor=request.user)
        if result.passed:
            messages.success(request, _("%(provider)s: every check passed.") % {"provider": provider.name})
        else:
            messages.error(
                request,
                _("%(provider)s: Test Connection failed. %(summary)s")
                % {"provider": provider.name, "summary": result.summary},
            )
        return redirect("integrations:list")


class IntegrationSyncNowView(MasterAdminRequiredMixin, View):
    trigger = SyncTrigger.SYNC_NOW

    def post(self, request, provider_key):
        provider = get_provider_or_404(provider_key)
        integration = get_object_or_404(Integration, provider_key=provider.key)
        try:
            sync_request(integration=integration, trigger=self.trigger, actor=request.user)
        except SyncRefused as exc:
            messages.warning(request, str(exc))
        # Started: no message, which would stay on the page after the run ended; the card
        # says "Sync queued", then "Syncing" with the progress, while the run is active.
        return redirect(safe_next(request, reverse("integrations:list")))


class IntegrationReconcileView(IntegrationSyncNowView):
    trigger = SyncTrigger.RECONCILE


class IntegrationDeleteView(MasterAdminRequiredMixin, View):
    def post(self, request, provider_key):
        provider = get_provider_or_404(provider_key)
        integration = Integration.objects.filter(provider_key=provider.key).first()
        if integration is None:
            # A second click on Confirm: already gone, nothing to do.
            messages.info(request, _("%(provider)s is not configured.") % {"provider": provider.name})
            return redirect("integrations:list")
        released = services.integration_delete(integration=integration, actor=request.user)
        messages.success(request, _("%(provider)s was deleted. Synced records are kept.") % {"provider": provider.name})
        if released is not None and released.message:
            (messages.info if released.done else messages.warning)(request, released.message)
        return redirect("integrations:list")


class SyncHistoryView(StaffRequiredMixin, ListView):
    template_name = "integrations/sync_history.html"
    paginate_by = 25

    def get_queryset(self):
        return SyncRun.objects.select_related("source", "integration")

    def get_context_data(self, **kwargs):
        return super().get_context_data(reconcilable=selectors.reconcilable_provider_keys(), **kwargs)


class SyncRunDetailView(StaffRequiredMixin, DetailView):
    template_name = "integrations/sync_run.html"
    model = SyncRun
    context_object_name = "run"
