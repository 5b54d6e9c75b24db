from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views import View

from accounts.permissions import StaffRequiredMixin
from billing.selectors import image_source_config
from billing.services import image_sources_save


class InvoiceImageDataView(StaffRequiredMixin, View):
    """Configurations > Billing > Invoice Image Data: order and enable the image sources."""

    template_name = "billing/image_sources.html"

    def _render(self, request, *, error: str = "", status: int = 200):
        sources = [
            {"item": item, "status": item.source.status(), "name": item.source.display_name()}
            for item in image_source_config()
        ]
        return render(request, self.template_name, {"sources": sources, "error": error}, status=status)

    def get(self, request):
        return self._render(request)

    def post(self, request):
        try:
            image_sources_save(
                actor=request.user,
                order=request.POST.getlist("order"),
                enabled=set(request.POST.getlist("enabled")),
            )
        except ValidationError as exc:
            return self._render(request, error=" ".join(exc.messages), status=400)
        messages.success(request, "Invoice Image Data saved.")
        return redirect("billing-config:image-sources")
