from django.views.generic import ListView

from accounts.permissions import StaffRequiredMixin
from billing.forms import InvoiceFilterForm
from billing.models import Invoice
from billing.selectors import invoice_list


class InvoiceListView(StaffRequiredMixin, ListView):
    template_name = "billing/invoice_list.html"
    paginate_by = 50

    def get_queryset(self):
        self.filter_form = InvoiceFilterForm(self.request.GET or None)
        if self.filter_form.is_bound and not self.filter_form.is_valid():
            return Invoice.objects.none()
        data = self.filter_form.cleaned_data if self.filter_form.is_bound else {}
        organization = data.get("organization")
        return invoice_list(
            search=data.get("q", ""),
            state=data.get("state", ""),
            organization_id=organization.pk if organization else None,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )

    def get_context_data(self, **kwargs):
        params = self.request.GET.copy()
        params.pop("page", None)
        return super().get_context_data(filter_form=self.filter_form, query_string=params.urlencode(), **kwargs)
