from __future__ import annotations

from typing import Any

from accounts.models import AuditEvent, User


def audit_record(*, actor: User | None, action: str, target: str, summary: str, **details: Any) -> AuditEvent:
    """Write one audit entry. ``details`` must never contain secrets."""
    return AuditEvent.objects.create(
        actor=actor if actor and actor.pk else None,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        target=target,
        summary=summary,
        details=details,
    )
