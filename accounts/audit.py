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

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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
            parts.append(_("%(label)s changed") % {"label": label})
        elif change.get("old") in (None, ""):
            parts.append(_("%(label)s set to %(new)s") % {"label": label, "new": _value(change.get("new"))})
        elif change.get("new") in (None, ""):
            parts.append(_("%(label)s cleared (was %(old)s)") % {"label": label, "old": _value(change.get("old"))})
        else:
            old, new = _value(change.get("old")), _value(change.get("new"))
            parts.append(_("%(label)s %(old)s → %(new)s") % {"label": label, "old": old, "new": new})
    return "; ".join(parts)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return _("on") if value else _("off")
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value) or _("none")
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
    return event.actor_email or _("The system")


def _lead(text: str) -> str:
    """A summary ("Added Visa ...") continued after a name ("Anna added Visa ...")."""
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _after_colon(text: str) -> str:
    return text.partition(": ")[2] or text


def _did(event: AuditEvent, who: str, d: dict) -> str:
    """The summary is what the actor did: "<who> <summary>"."""
    return _("%(who)s %(summary)s") % {"who": who, "summary": _lead(event.summary)}


def _fallback(event: AuditEvent, who: str, d: dict) -> str:
    if event.summary:
        return _("%(who)s: %(summary)s") % {"who": who, "summary": event.summary}
    return _("%(who)s: %(action)s (%(target)s)") % {"who": who, "action": event.action, "target": event.target}


def _from(d: dict) -> str:
    return _(" from %(address)s") % {"address": d["address"]} if d.get("address") else ""


def _integration_saved(event: AuditEvent, who: str, d: dict) -> str:
    names = {"who": who, "target": event.target}
    if "changes" in d:
        names["changes"] = changes_text(d["changes"])
        if d.get("created"):
            return _("%(who)s added %(target)s settings: %(changes)s") % names
        return _("%(who)s changed %(target)s settings: %(changes)s") % names
    # Entries from before old → new was recorded name the fields only, or none for a no-op save.
    fields = ", ".join(d.get("changed_fields") or [])
    if not fields and not d.get("created"):
        return _("%(who)s saved %(target)s settings without changing anything") % names
    sentence = _("%(who)s added %(target)s settings") if d.get("created") else _("%(who)s changed %(target)s settings")
    return sentence % names + (f" ({fields})" if fields else "")


def _integration_tested(event: AuditEvent, who: str, d: dict) -> str:
    names = {"who": who, "target": event.target}
    if d.get("result") == "passed":
        return _("%(who)s ran Test Connection on %(target)s: passed") % names
    areas = ", ".join(d.get("failed_areas") or [])
    return _("%(who)s ran Test Connection on %(target)s: failed") % names + (f" ({areas})" if areas else "")


def _notification_settings_saved(event: AuditEvent, who: str, d: dict) -> str:
    if "changes" in d:
        changes = changes_text(d["changes"])
        return _("%(who)s changed the notification settings: %(changes)s") % {"who": who, "changes": changes}
    return _("%(who)s saved the notification settings") % {"who": who}


def _image_sources_saved(event: AuditEvent, who: str, d: dict) -> str:
    order = _after_colon(event.summary)
    return _("%(who)s set the Invoice Image Data order: %(order)s") % {"who": who, "order": order}


def _access_revoked(event: AuditEvent, who: str, d: dict) -> str:
    ended = d.get("sessions_ended")
    revoked = _("%(who)s revoked the client-portal access of %(target)s") % {"who": who, "target": event.target}
    if ended is None:
        return revoked
    return revoked + ngettext("; %(count)d session ended", "; %(count)d sessions ended", ended) % {"count": ended}


def _refund_requested(event: AuditEvent, who: str, d: dict) -> str:
    reason = d.get("reason") or _after_colon(event.summary)
    amount = f"{d['amount']} {d.get('currency', '')}".strip() if d.get("amount") else _("an amount")
    return _("%(who)s refunded %(amount)s on payment #%(payment)s: %(reason)s") % {
        "who": who,
        "amount": amount,
        "payment": d.get("payment_id", "?"),
        "reason": reason,
    }


def _refund_sent(event: AuditEvent, who: str, d: dict) -> str:
    outcome = _after_colon(event.summary)
    return _("Refund #%(refund)s on payment #%(payment)s went to the processor: %(outcome)s") % {
        "refund": d.get("refund_id", "?"),
        "payment": d.get("payment_id", "?"),
        "outcome": outcome,
    }


def _role_label(value: str | None) -> str:
    return Role(value).label if value in Role.values else str(value or _("no role"))


def _role_changed(event: AuditEvent, who: str, d: dict) -> str:
    if "before" not in d:
        return _fallback(event, who, d)
    return _("%(who)s changed the role of %(target)s: %(before)s → %(after)s") % {
        "who": who,
        "target": event.target,
        "before": _role_label(d["before"]),
        "after": _role_label(d.get("after")),
    }


def _autopay_decision(event: AuditEvent, who: str, d: dict) -> str:
    # "Autopay of invoice INV-1: approve" / "...: reschedule to 2026-12-20"
    subject, _sep, decision = event.summary.partition(": ")
    verbs = {"approve": _("approved"), "skip": _("skipped"), "reschedule": _("rescheduled")}
    verb, _space, rest = decision.partition(" ")
    names = {"who": who, "verb": verbs.get(verb, verb), "subject": _lead(subject), "target": event.target}
    return _("%(who)s %(verb)s the %(subject)s for %(target)s") % names + (f" {rest}" if rest else "")


def _autopay_rule(event: AuditEvent, who: str, d: dict) -> str:
    # "Autopay rule added: Visa ending 4242, on the due date"
    names = {"who": who, "target": event.target, "change": _lead(event.summary.removeprefix("Autopay "))}
    if d.get("by_client"):
        return _("%(who)s (in the client portal) updated the autopay rules of %(target)s: %(change)s") % names
    return _("%(who)s updated the autopay rules of %(target)s: %(change)s") % names


def _staff_invitation_sent(event: AuditEvent, who: str, d: dict) -> str:
    if event.actor_email:
        return _("The staff invitation to %(target)s was e-mailed (invited by %(who)s)") % {
            "target": event.target,
            "who": who,
        }
    return _("The staff invitation to %(target)s was e-mailed") % {"target": event.target}


def _portal_invitation_sent(event: AuditEvent, who: str, d: dict) -> str:
    names = {"who": who, "summary": _lead(event.summary)}
    if d.get("resent"):
        return _("%(who)s %(summary)s again") % names
    return _("%(who)s %(summary)s") % names


SENTENCES: dict[str, Callable[[AuditEvent, str, dict], str]] = {
    # integrations
    "integration.saved": _integration_saved,
    "integration.tested": _integration_tested,
    "integration.deleted": _did,
    "sync.requested": lambda e, who, d: (
        _("%(who)s %(summary)s of %(target)s") % {"who": who, "summary": _lead(e.summary), "target": e.target}
    ),
    # notifications
    "notifications.settings_saved": _notification_settings_saved,
    "notification.test": _did,
    "notification.fired": _did,
    "notification.retry": _did,
    # billing
    "billing.image_sources.save": _image_sources_saved,
    "billing.comment_replied": _did,
    # payments
    "payment_method.added": lambda e, who, d: (
        _("%(who)s added %(method)s for %(target)s")
        % {"who": who, "method": e.summary.removeprefix("Added "), "target": e.target}
    ),
    "payment_method.default": lambda e, who, d: (
        _("%(who)s %(summary)s of %(target)s") % {"who": who, "summary": _lead(e.summary), "target": e.target}
    ),
    "payment_method.removed": lambda e, who, d: (
        _("%(who)s removed %(method)s of %(target)s")
        % {"who": who, "method": e.summary.removeprefix("Removed "), "target": e.target}
    ),
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
    "accounts.staff_invitation.sent": _staff_invitation_sent,
    "accounts.staff_invitation.failed": lambda e, who, d: (
        _("The staff invitation to %(target)s could not be e-mailed: %(reason)s")
        % {"target": e.target, "reason": d.get("reason") or e.summary}
    ),
    "accounts.staff_invitation.accepted": lambda e, who, d: (
        _("%(who)s accepted the staff invitation and joined") % {"who": who}
    ),
    "accounts.signin": lambda e, who, d: _("%(who)s signed in%(from)s") % {"who": who, "from": _from(d)},
    "accounts.signin.failed": lambda e, who, d: (
        _("Failed sign-in as %(target)s%(from)s") % {"target": e.target, "from": _from(d)}
        + (f": {d['reason']}" if d.get("reason") else "")
    ),
    "accounts.signin.lockout": lambda e, who, d: (
        _("Sign-in as %(target)s%(from)s %(summary)s")
        % {"target": e.target, "from": _from(d), "summary": _lead(e.summary.removeprefix("Sign-in "))}
    ),
    "accounts.password_reset.requested": lambda e, who, d: (
        _("Password reset requested for %(target)s%(from)s") % {"target": e.target, "from": _from(d)}
    ),
    "accounts.password_reset.limited": lambda e, who, d: (
        _("Password reset for %(target)s%(from)s refused: too many requests") % {"target": e.target, "from": _from(d)}
    ),
    "accounts.password_reset.completed": lambda e, who, d: (
        _("%(who)s set a new password with a reset link%(from)s") % {"who": who, "from": _from(d)}
    ),
    # client portal
    "client.access_revoked": lambda e, who, d: (
        _("Client portal access of %(target)s was revoked: %(summary)s")
        % {"target": e.target, "summary": _lead(_after_colon(e.summary))}
    ),
    "portal.invitation.sent": _portal_invitation_sent,
    "portal.invitation.failed": lambda e, who, d: (
        _("The client-portal invitation to %(target)s could not be e-mailed: %(reason)s")
        % {"target": e.target, "reason": d.get("reason") or e.summary}
    ),
    "portal.invitation.accepted": lambda e, who, d: _("%(who)s accepted the client-portal invitation") % {"who": who},
    "portal.access.revoked": _access_revoked,
    "portal.access.restored": lambda e, who, d: (
        _("%(who)s invited %(target)s again after their access was revoked") % {"who": who, "target": e.target}
    ),
    "portal.password.changed": lambda e, who, d: (
        _("%(who)s changed their client-portal password%(from)s") % {"who": who, "from": _from(d)}
    ),
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
        lambda e, who, d: (
            _("%(who)s answered the portal access request from %(target)s: %(answer)s")
            % {"who": who, "target": e.target, "answer": _after_colon(e.summary)}
        ),
    ),
)
