"""Xero's OAuth tokens: stored encrypted, refreshed by one worker at a time, rotated safely.

Invariants:
- The token set (access token, refresh token, expiry, scopes) is one encrypted secret of the
  Integration row (``Integration.set_secret``), written only inside a transaction holding that
  row (``select_for_update``). It is never rendered, logged or put in a message.
- Refresh tokens rotate: a refresh returns a new one and the old one dies. So the new token set is
  committed **before** the new access token is handed to anyone; if the commit fails, Xero's grace
  period lets the old refresh token be used once more.
- One refresh at a time per integration across every process: a Redis lock
  (``portal:xero-token-refresh:<id>``) is held around the refresh. Whoever waited for it reads the
  tokens again and, finding them fresh, uses them without refreshing. The write is also a
  compare-and-swap on the refresh token used, so a worker whose lock expired mid-refresh can never
  overwrite a newer token set with an older one.
- A grant Xero no longer honours (``XeroGrantRevoked``) marks the connection "Reconnect Xero",
  once: the card says so and a Sync Failed alert is recorded for the Sync Failed notification
  (by the run itself when a sync is what found it).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.redis import get_redis
from integrations.models import (
    DataSource,
    Integration,
    IntegrationStatus,
    SyncAlert,
    SyncAlertKind,
    SyncRun,
    SyncStatus,
)

from .client import XeroIdentity
from .exceptions import XeroAuthError, XeroGrantRevoked, XeroUnavailable
from .models import XeroConnection
from .types import TokenSet

logger = logging.getLogger("providers.xero")

SECRET_NAME = "oauth_tokens"
# An access token this close to its expiry is refreshed before use.
EXPIRY_MARGIN = timedelta(minutes=2)
# The refresh lock outlives the longest refresh (two attempts of (5 + 15) s plus backoff).
LOCK_TTL_SECONDS = 90
LOCK_WAIT_SECONDS = 60
LOCK_POLL_SECONDS = 0.05
REFRESH_TIMEOUT = (5, 15)

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class XeroNotConnected(XeroAuthError):
    """No grant is stored yet: Connect Xero from the card."""


@dataclass(frozen=True)
class StoredTokens:
    access_token: str
    refresh_token: str
    expires_at: datetime
    scopes: tuple[str, ...]

    def __repr__(self) -> str:  # never the tokens themselves
        return f"StoredTokens(expires_at={self.expires_at.isoformat()}, scopes={self.scopes})"

    def fresh(self, now: datetime) -> bool:
        return self.expires_at - EXPIRY_MARGIN > now

    def to_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at.isoformat(),
                "scopes": list(self.scopes),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> StoredTokens:
        data = json.loads(text)
        return cls(
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
            expires_at=datetime.fromisoformat(data["expires_at"]),
            scopes=tuple(data.get("scopes") or ()),
        )

    @classmethod
    def from_token_set(cls, token_set: TokenSet, *, previous: StoredTokens | None = None) -> StoredTokens:
        refresh_token = token_set.refresh_token or (previous.refresh_token if previous else "")
        if not refresh_token:
            raise XeroAuthError(
                _("Xero granted no refresh token: the offline_access scope is missing; reconnect Xero.")
            )
        return cls(
            access_token=token_set.access_token,
            refresh_token=refresh_token,
            expires_at=token_set.expires_at,
            scopes=token_set.scopes or (previous.scopes if previous else ()),
        )


# --- storage -------------------------------------------------------------------------------------


def tokens_read(integration_id: int) -> StoredTokens | None:
    """The stored token set, read from the database now (never a stale copy in memory)."""
    row = Integration.objects.only("encrypted_secrets").filter(pk=integration_id).first()
    if row is None or not row.has_secret(SECRET_NAME):
        return None
    return StoredTokens.from_json(row.get_secret(SECRET_NAME))


def tokens_store(*, integration_id: int, tokens: StoredTokens, replacing: str | None = None) -> bool:
    """Write the token set. ``replacing``: only if the stored refresh token is still this one
    (False when another worker stored a newer set meanwhile; nothing is written then)."""
    with transaction.atomic():
        row = Integration.objects.select_for_update().only("encrypted_secrets").get(pk=integration_id)
        if replacing is not None and row.has_secret(SECRET_NAME):
            current = StoredTokens.from_json(row.get_secret(SECRET_NAME))
            if current.refresh_token != replacing:
                return False
        row.set_secret(SECRET_NAME, tokens.to_json())
        row.save(update_fields=["encrypted_secrets"])
    return True


# --- the grant's state ---------------------------------------------------------------------------


def connection_needs_reconnect(*, integration_id: int, reason: str) -> bool:
    """Mark the grant unusable: the card shows Reconnect Xero and, the first time, a Sync Failed alert
    is recorded (when the integration has a data source). True when this call marked it."""
    with transaction.atomic():
        connection = XeroConnection.objects.select_for_update().filter(integration_id=integration_id).first()
        if connection is None or connection.reconnect_reason:
            return False
        connection.reconnect_reason = reason[:500]
        connection.reconnect_since = timezone.now()
        connection.save(update_fields=["reconnect_reason", "reconnect_since"])
        Integration.objects.filter(pk=integration_id).update(
            status=IntegrationStatus.ERROR, status_detail=f"Reconnect Xero: {reason}"[:500]
        )
        source = DataSource.objects.filter(integration_id=integration_id).first()
        # A running sync fails on the same grant and raises its own Sync Failed: not twice.
        syncing = source is not None and SyncRun.objects.filter(source=source, status=SyncStatus.RUNNING).exists()
        if source is not None and not syncing:
            SyncAlert.objects.create(source=source, kind=SyncAlertKind.SYNC_FAILED, reason=f"Xero: {reason}")
    logger.warning("Xero integration %s needs a new sign-in", integration_id)
    return True


# --- refreshing ------------------------------------------------------------------------------------


def identity_for(integration: Integration, **options) -> XeroIdentity:
    """The identity client of the app whose Client ID and Secret are in Settings."""
    return XeroIdentity(
        integration.config.get("client_id", ""),
        integration.get_secret("client_secret"),
        identity_url=settings.XERO_IDENTITY_URL,
        authorize_url=settings.XERO_AUTHORIZE_URL,
        connections_url=settings.XERO_CONNECTIONS_URL,
        **options,
    )


class _RefreshLock:
    def __init__(self, integration_id: int) -> None:
        self.key = f"portal:xero-token-refresh:{integration_id}"
        self.token = secrets.token_hex(16)

    def acquire(self, wait: float) -> bool:
        deadline = time.monotonic() + wait
        client = get_redis()
        while True:
            if client.set(self.key, self.token, nx=True, ex=LOCK_TTL_SECONDS):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(LOCK_POLL_SECONDS)

    def release(self) -> None:
        get_redis().eval(_RELEASE, 1, self.key, self.token)


def access_token(integration_id: int, *, rejected: str | None = None) -> str:
    """A current access token. ``rejected``: the token Xero just refused (a 401): a newer one is
    returned, refreshing unless another worker already did. Raises ``XeroNotConnected``,
    ``XeroGrantRevoked`` (the connection is then marked Reconnect Xero), ``XeroAuthError`` (Client
    ID or Secret refused) or a transient ``XeroError``."""
    return current_tokens(integration_id, rejected=rejected).access_token


def current_tokens(integration_id: int, *, rejected: str | None = None) -> StoredTokens:
    """The token set ``access_token`` hands out (see there)."""
    stored = tokens_read(integration_id)
    if stored is None:
        raise XeroNotConnected(_("Xero is not connected: use Connect Xero on the Integrations page."))
    if stored.fresh(timezone.now()) and stored.access_token != rejected:
        return stored
    lock = _RefreshLock(integration_id)
    if not lock.acquire(LOCK_WAIT_SECONDS):
        raise XeroUnavailable(_("Another worker has been refreshing the Xero token for too long; try again shortly."))
    try:
        stored = tokens_read(integration_id)  # what the lock holder before us may have stored
        if stored is None:
            raise XeroNotConnected(_("Xero is not connected: use Connect Xero on the Integrations page."))
        if stored.fresh(timezone.now()) and stored.access_token != rejected:
            return stored
        return _refresh(integration_id, stored)
    finally:
        lock.release()


def _refresh(integration_id: int, stored: StoredTokens) -> StoredTokens:
    integration = Integration.objects.get(pk=integration_id)
    try:
        with identity_for(integration, timeout=REFRESH_TIMEOUT, max_attempts=2) as identity:
            token_set = identity.refresh(stored.refresh_token)
    except XeroGrantRevoked as exc:
        connection_needs_reconnect(
            integration_id=integration_id, reason="Xero no longer accepts the portal's authorization."
        )
        raise XeroGrantRevoked(
            _("Xero no longer accepts the portal's authorization (revoked, expired or disconnected); reconnect Xero."),
            status_code=exc.status_code,
        ) from exc
    fresh = StoredTokens.from_token_set(token_set, previous=stored)
    # Stored before it is used: the refresh token we just spent is dead (after Xero's grace period).
    if not tokens_store(integration_id=integration_id, tokens=fresh, replacing=stored.refresh_token):
        logger.warning("Xero integration %s: a newer token set was stored meanwhile; keeping it", integration_id)
    logger.info("Xero integration %s: access token refreshed", integration_id)
    return fresh


def refresh_now(integration_id: int) -> StoredTokens:
    """Refresh even a fresh token (Test Connection proves the refresh works) and return the new set."""
    stored = tokens_read(integration_id)
    if stored is None:
        raise XeroNotConnected(_("Xero is not connected: use Connect Xero on the Integrations page."))
    access_token(integration_id, rejected=stored.access_token)
    result = tokens_read(integration_id)
    assert result is not None
    return result


class TokenSource:
    """The ``access_token_provider`` of a XeroClient. It keeps the token set it handed out while
    it is fresh (no database read per request), and a 401 on it asks for a newer one (refreshed
    once for every client that saw the same 401)."""

    def __init__(self, integration_id: int) -> None:
        self.integration_id = integration_id
        self._tokens: StoredTokens | None = None

    def __call__(self, *, force_refresh: bool = False) -> str:
        held = self._tokens
        if held is not None and not force_refresh and held.fresh(timezone.now()):
            return held.access_token
        rejected = held.access_token if force_refresh and held is not None else None
        self._tokens = current_tokens(self.integration_id, rejected=rejected)
        return self._tokens.access_token
