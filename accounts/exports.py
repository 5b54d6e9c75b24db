"""CSV export of the audit log.

Invariants: every audit event, newest first as the page lists them; Master Admin only, as the
page; it streams (see core.csv_export), reading the events in chunks with ``iterator()``. Each
row has the sentence the page shows (accounts.audit) and, for machines, the details: the JSON
the event stored (safe details only: the audit log never holds a secret).
"""

import json

from django.utils import timezone
from django.views import View

from accounts.audit import audit_sentence
from accounts.models import AuditEvent
from accounts.permissions import MasterAdminRequiredMixin
from core.csv_export import csv_streaming_response

AUDIT_COLUMNS = ("Time", "Who", "Action", "Target", "Summary", "Sentence", "Details")


def audit_row(event: AuditEvent) -> tuple:
    return (
        timezone.localtime(event.created_at).isoformat(timespec="seconds"),
        event.actor_email or "system",
        event.action,
        event.target,
        event.summary,
        audit_sentence(event),
        json.dumps(event.details, sort_keys=True, default=str) if event.details else "",
    )


class AuditExportView(MasterAdminRequiredMixin, View):
    def get(self, request):
        events = AuditEvent.objects.select_related("actor").order_by("-created_at", "-id")
        return csv_streaming_response(
            filename=f"audit-log-{timezone.localdate():%Y-%m-%d}.csv",
            header=AUDIT_COLUMNS,
            rows=(audit_row(event) for event in events.iterator(chunk_size=2000)),
        )
