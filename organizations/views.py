from urllib.parse import urlencode

from django.views.generic import DetailView, ListView

from accounts.permissions import StaffRequiredMixin
from core.pagination import NearestPageMixin
from organizations.models import Organization
from organizations.selectors import organization_list


class OrganizationListView(StaffRequiredMixin, NearestPageMixin, ListView):
    template_name = "organizations/list.html"
    paginate_by = 50

    def get_queryset(self):
        return organization_list(search=self.request.GET.get("q", "").strip())

    def get_context_data(self, **kwargs):
        q = self.request.GET.get("q", "").strip()
        return super().get_context_data(q=q, query_string=urlencode({"q": q}) if q else "", **kwargs)


class OrganizationDetailView(StaffRequiredMixin, DetailView):
    template_name = "organizations/detail.html"
    model = Organization
    context_object_name = "organization"

    def get_context_data(self, **kwargs):
        org = self.object
        return super().get_context_data(
            contacts=org.contact_set.order_by("deleted_at", "last_name", "first_name")[:200],
            contracts=org.contract_set.order_by("deleted_at", "name")[:200],
            tickets=org.ticket_set.order_by("-open_date")[:25],
            invoices=org.invoices.order_by("-invoice_date")[:25],
            invoice_count=org.invoices.count(),
            **kwargs,
        )
