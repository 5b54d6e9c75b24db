"""The authorization-code flow's pieces that are not views: the redirect URI, the scopes, and the
``state`` bound to the admin's session.

Invariants:
- The redirect URI is fixed by ``PORTAL_BASE_URL`` (not by the Host of a request), so it is the
  one the admin copied into Xero's developer portal.
- ``state`` is an unguessable value kept in the session of the admin who clicked Connect; the
  callback accepts a code only with the same value, once, within ``STATE_MAX_AGE``.
- Scopes cover what the portal does: contacts (matching, billing e-mails), invoices (PDFs,
  balances), payments (posting) and settings (organisation, accounts), plus ``offline_access``
  (a refresh token).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_noop

from .client import DEFAULT_SCOPES, LEGACY_SCOPES

SESSION_KEY = "xero_oauth_state"
STATE_MAX_AGE = 15 * 60

SCOPE_SETS = {"granular": DEFAULT_SCOPES, "broad": LEGACY_SCOPES}


@dataclass(frozen=True)
class ScopeNeed:
    area: str
    label: str
    any_of: tuple[str, ...]  # one of these granted is enough


# What Test Connection checks in the granted scopes (labels translated where shown).
SCOPE_NEEDS = (
    ScopeNeed("scope_contacts", gettext_noop("Contacts"), ("accounting.contacts", "accounting.contacts.read")),
    ScopeNeed(
        "scope_invoices",
        gettext_noop("Invoices"),
        ("accounting.invoices", "accounting.invoices.read", "accounting.transactions", "accounting.transactions.read"),
    ),
    ScopeNeed("scope_payments", gettext_noop("Payments (posting)"), ("accounting.payments", "accounting.transactions")),
    ScopeNeed(
        "scope_settings",
        gettext_noop("Settings (organisation, accounts)"),
        ("accounting.settings", "accounting.settings.read"),
    ),
)


def redirect_uri() -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("integrations:xero:callback")


def scopes_for(config: dict) -> tuple[str, ...]:
    return SCOPE_SETS.get(config.get("scope_set") or "granular", DEFAULT_SCOPES)


def state_issue(session) -> str:
    state = secrets.token_urlsafe(32)
    session[SESSION_KEY] = {"state": state, "issued": time.time()}
    return state


def state_check(session, state: str | None) -> bool:
    """True once for the state this session was issued (it is used up either way)."""
    issued = session.pop(SESSION_KEY, None)
    if not issued or not state:
        return False
    if time.time() - float(issued.get("issued", 0)) > STATE_MAX_AGE:
        return False
    return secrets.compare_digest(str(issued.get("state", "")), state)
