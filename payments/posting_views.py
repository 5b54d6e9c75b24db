"""Staff Posting errors page (under Payments): refused and long-pending postings to the accounting
package with the reason and the package's words, Retry (a new idempotency generation) and Dismiss
(with a note; audited). Views are thin: posting.py does the work."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from accounts.permissions import StaffRequiredMixin
from payments import posting
from payments.models import PaymentPosting


class PostingErrorsView(StaffRequiredMixin, View):
    template_name = "payments/posting_errors.html"

    def get(self, request, status: int = 200, dismiss_error: dict | None = None):
        context = {
            "postings": posting.posting_errors()[:500],
            "section": "posting-errors",
            "dismiss_error": dismiss_error or {},
        }
        return render(request, self.template_name, context, status=status)


class PostingRetryView(StaffRequiredMixin, View):
    def post(self, request, pk: int):
        row = get_object_or_404(PaymentPosting, pk=pk)
        posting.posting_retry(posting_id=row.pk, actor=request.user)
        messages.success(request, _("Posting %(reference)s is being sent again.") % {"reference": row.reference})
        return redirect("payments:posting-errors")


class PostingDismissView(StaffRequiredMixin, View):
    def post(self, request, pk: int):
        row = get_object_or_404(PaymentPosting, pk=pk)
        note = request.POST.get("note", "").strip()
        if not note:
            return PostingErrorsView().get(
                request, status=400, dismiss_error={row.pk: _("Say how it was handled (for the audit log).")}
            )
        posting.posting_dismiss(posting_id=row.pk, actor=request.user, note=note)
        messages.success(request, _("Posting %(reference)s dismissed.") % {"reference": row.reference})
        return redirect("payments:posting-errors")
