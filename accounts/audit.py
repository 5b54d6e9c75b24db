"""The audit log in words: each entry as one sentence ("Anna Admin changed Kaseya BMS settings:
Company Name "Wrong Co" → "Acme MSP""), and the field-by-field changes settings saves record.

Invariants:
- One renderer per action (``SENTENCES``; families of actions by prefix in ``PREFIXED``); an
  action without one reads "<who>: <summary>", so a new action is never shown as raw data.
- A renderer reads only what the entry stored (actor, target, summary, details): entries
  written before a renderer existed (without the details it prefers) still read well.
- A secret field's change is recorded and said as "<Label> changed", never with a value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from accounts.models import AuditEvent, Role

# --- changes recorded by settings saves -------------------------------------------------------------


def field_changes(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    labels: Mapping[str, str],
    secrets_changed: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """What a save changed, in the order of ``labels``: ``{"field", "label", "old", "new"}`` for
    each field whose value differs, ``{"field", "label", "secret": True}`` (no values) for each
    secret set anew. Empty: nothing changed, and nothing is worth an audit entry."""
    secrets = set(secrets_changed)
    changes: list[dict[str, Any]] = []
    for field, label in labels.items():
        if field in secrets:
            changes.append({"field": field, "label": label, "secret": True})
        elif field in after and before.get(field) != after.get(field):
            changes.append({"field": field, "label": label, "old": before.get(field), "new": after.get(field)})
    return changes


def changes_text(changes: Iterable[Mapping[str, Any]]) -> str:
    """``Company Name "Wrong Co" → "Acme MSP"; Password changed``."""
    parts = []
    for change in changes:
        label = change.get("label") or change.get("field", "")
        if change.get("secret"):
            parts.append(f"{label} changed")
        elif change.get("old") in (None, ""):
            parts.append(f"{label} set to {_value(change.get('new'))}")
        elif change.get("new") in (None, ""):
            parts.append(f"{label} cleared (was {_value(change.get('old'))})")
        else:
            parts.append(f"{label} {_value(change.get('old'))} → {_value(change.get('new'))}")
    return "; ".join(parts)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value) or "none"
    return f"“{value}”"


# --- sentences --------------------------------------------------------------------------------------


def audit_sentence(event: AuditEvent) -> str:
    """The entry as one readable sentence."""
    renderer = SENTENCES.get(event.action)
    if renderer is None:
        renderer = next((r for prefix, r in PREFIXED if event.action.startswith(prefix)), _fallback)
    return renderer(event, _who(event), event.details or {})


def _who(event: AuditEvent) -> str:
    actor = event.actor
    if actor is not None and actor.full_name:
        return actor.full_name
    return event.actor_email or "The system"


def _lead(text: str) -> str:
    """A summary ("Added Visa ...") continued after a name ("Anna added Visa ...")."""
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _after_colon(text: str) -> str:
    return text.partition(": ")[2] or text


def _did(event: AuditEvent, who: str, d: dict) -> str:
    """The summary is what the actor did: "<who> <summary>"."""
    return f"{who} {_lead(event.summary)}"


def _fallback(event: AuditEvent, who: str, d: dict) -> str:
    return f"{who}: {event.summary}" if event.summary else f"{who}: {event.action} ({event.target})"


def _from(d: dict) -> str:
    return f" from {d['address']}" if d.get("address") else ""


def _integration_saved(event: AuditEvent, who: str, d: dict) -> str:
    verb = "added" if d.get("created") else "changed"
    if "changes" in d:
        return f"{who} {verb} {event.target} settings: {changes_text(d['changes'])}"
    # Entries from before old → new was recorded name the fields only, or none for a no-op save.
    fields = ", ".join(d.get("changed_fields") or [])
    if not fields and not d.get("created"):
        return f"{who} saved {event.target} settings without changing anything"
    return f"{who} {verb} {event.target} settings" + (f" ({fields})" if fields else "")


def _integration_tested(event: AuditEvent, who: str, d: dict) -> str:
    if d.get("result") == "passed":
        return f"{who} ran Test Connection on {event.target}: passed"
    areas = ", ".join(d.get("failed_areas") or [])
    return f"{who} ran Test Connection on {event.target}: failed" + (f" ({areas})" if areas else "")


def _notification_settings_saved(event: AuditEvent, who: str, d: dict) -> str:
    if "changes" in d:
        return f"{who} changed the notification settings: {changes_text(d['changes'])}"
    return f"{who} saved the notification settings"


def _image_sources_saved(event: AuditEvent, who: str, d: dict) -> str:
    return f"{who} set the Invoice Image Data order: {_after_colon(event.summary)}"


def _access_revoked(event: AuditEvent, who: str, d: dict) -> str:
    ended = d.get("sessions_ended")
    sessions = "" if ended is None else f"; {ended} session{'s' if ended != 1 else ''} ended"
    return f"{who} revoked the client-portal access of {event.target}{sessions}"


def _refund_requested(event: AuditEvent, who: str, d: dict) -> str:
    reason = d.get("reason") or _after_colon(event.summary)
    amount = f"{d['amount']} {d.get('currency', '')}".strip() if d.get("amount") else "an amount"
    return f"{who} refunded {amount} on payment #{d.get('payment_id', '?')}: {reason}"


def _refund_sent(event: AuditEvent, who: str, d: dict) -> str:
    outcome = _after_colon(event.summary)
    return f"Refund #{d.get('refund_id', '?')} on payment #{d.get('payment_id', '?')} went to the processor: {outcome}"


def _role_label(value: str | None) -> str:
    return Role(value).label if value in Role.values else str(value or "no role")


def _role_changed(event: AuditEvent, who: str, d: dict) -> str:
    if "before" not in d:
        return _fallback(event, who, d)
    return f"{who} changed the role of {event.target}: {_role_label(d['before'])} → {_role_label(d.get('after'))}"


def _autopay_decision(event: AuditEvent, who: str, d: dict) -> str:
    # "Autopay of invoice INV-1: approve" / "...: reschedule to 2026-12-20"
    subject, _sep, decision = event.summary.partition(": ")
    verbs = {"approve": "approved", "skip": "skipped", "reschedule": "rescheduled"}
    verb, _space, rest = decision.partition(" ")
    return f"{who} {verbs.get(verb, verb)} the {_lead(subject)} for {event.target}" + (f" {rest}" if rest else "")


def _autopay_rule(event: AuditEvent, who: str, d: dict) -> str:
    # "Autopay rule added: Visa ending 4242, on the due date"
    by = " (in the client portal)" if d.get("by_client") else ""
    return f"{who}{by} updated the autopay rules of {event.target}: {_lead(event.summary.removeprefix('Autopay '))}"


SENTENCES: dict[str, Callable[[AuditEvent, str, dict], str]] = {
    # integrations
    "integration.saved": _integration_saved,
    "integration.tested": _integration_tested,
    "integration.deleted": _did,
    "sync.requested": lambda e, who, d: f"{who} {_lead(e.summary)} of {e.target}",
    # notifications
    "notifications.settings_saved": _notification_settings_saved,
    "notification.test": _did,
    "notification.fired": _did,
    "notification.retry": _did,
    # billing
    "billing.image_sources.save": _image_sources_saved,
    "billing.comment_replied": _did,
    # payments
    "payment_method.added": lambda e, who, d: f"{who} added {e.summary.removeprefix('Added ')} for {e.target}",
    "payment_method.default": lambda e, who, d: f"{who} {_lead(e.summary)} of {e.target}",
    "payment_method.removed": lambda e, who, d: f"{who} removed {e.summary.removeprefix('Removed ')} of {e.target}",
    "payment.refund_requested": _refund_requested,
    "payment.refund_sent": _refund_sent,
    "payment.posting_retried": _did,
    "payment.posting_dismissed": _did,
    # accounts
    "accounts.user.created": _did,
    "accounts.user.role_changed": _role_changed,
    "accounts.user.deactivated": _did,
    "accounts.user.reactivated": _did,
    "accounts.staff_invitation.queued": _did,
    "accounts.staff_invitation.sent": lambda e, who, d: (
        f"The staff invitation to {e.target} was e-mailed" + (f" (invited by {who})" if e.actor_email else "")
    ),
    "accounts.staff_invitation.failed": lambda e, who, d: (
        f"The staff invitation to {e.target} could not be e-mailed: {d.get('reason') or e.summary}"
    ),
    "accounts.staff_invitation.accepted": lambda e, who, d: f"{who} accepted the staff invitation and joined",
    "accounts.signin": lambda e, who, d: f"{who} signed in{_from(d)}",
    "accounts.signin.failed": lambda e, who, d: (
        f"Failed sign-in as {e.target}{_from(d)}" + (f": {d['reason']}" if d.get("reason") else "")
    ),
    "accounts.signin.lockout": lambda e, who, d: (
        f"Sign-in as {e.target}{_from(d)} " + _lead(e.summary.removeprefix("Sign-in "))
    ),
    "accounts.password_reset.requested": lambda e, who, d: f"Password reset requested for {e.target}{_from(d)}",
    "accounts.password_reset.limited": lambda e, who, d: (
        f"Password reset for {e.target}{_from(d)} refused: too many requests"
    ),
    "accounts.password_reset.completed": lambda e, who, d: f"{who} set a new password with a reset link{_from(d)}",
    # client portal
    "client.access_revoked": lambda e, who, d: (
        f"Client portal access of {e.target} was revoked: " + _lead(_after_colon(e.summary))
    ),
    "portal.invitation.sent": lambda e, who, d: f"{who} {_lead(e.summary)}" + (" again" if d.get("resent") else ""),
    "portal.invitation.failed": lambda e, who, d: (
        f"The client-portal invitation to {e.target} could not be e-mailed: {d.get('reason') or e.summary}"
    ),
    "portal.invitation.accepted": lambda e, who, d: f"{who} accepted the client-portal invitation",
    "portal.access.revoked": _access_revoked,
    "portal.access.restored": lambda e, who, d: f"{who} invited {e.target} again after their access was revoked",
    "portal.password.changed": lambda e, who, d: f"{who} changed their client-portal password{_from(d)}",
    # Xero
    "xero.connected": _did,
    "xero.organisation_chosen": _did,
    "xero.contact_linked": _did,
    "xero.contact_unlinked": _did,
}

# Families whose last part varies (the rule's action, the request's new status...).
PREFIXED: tuple[tuple[str, Callable[[AuditEvent, str, dict], str]], ...] = (
    ("autopay.rule_", _autopay_rule),
    ("autopay.", _autopay_decision),
    (
        "portal.access_request.",
        lambda e, who, d: f"{who} answered the portal access request from {e.target}: {_after_colon(e.summary)}",
    ),
)
