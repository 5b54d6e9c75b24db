"""Ticket markers: how a ticket in the PSA is found again by the delivery that created it.

Invariants:
- The one definition of the marker: ``[portal-ref:<delivery key>:<signature>]``, the signature
  an HMAC-SHA256 of the delivery key under SECRET_KEY (``salted_hmac``, 32 hex digits). Only
  the portal can write a delivery's marker; knowing the key (it is in the e-mail's headers)
  is not enough to forge one.
- Adoption is by the exact marker: ``find_ticket`` returns only a ticket whose details contain
  the whole signed marker of this delivery, on the delivery's account (the marker "verifies").
  Markers signed with a key in SECRET_KEY_FALLBACKS are still found, so rotating SECRET_KEY
  does not make a retry open a second ticket.
- Text the portal does not write (a client's comment, an access request's name or message,
  any rendered fact) never reads as a marker: ``neutralize`` turns ``[portal-ref:`` in it,
  in any case, spacing or Unicode look-alike form, into ``(portal-ref:``.
- Unsigned markers (``[portal-ref:<delivery key>]``, before signing): only a delivery created
  before the upgrade (``Delivery.accepts_unsigned_marker``) may adopt a ticket carrying one,
  and like every adoption only on its own account and opened since the delivery was created
  (an hour's leeway). Any ticket the portal opens from now on carries neutralized client text,
  so no new ticket can carry a forged unsigned marker either.
"""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.utils.crypto import salted_hmac

_SALT = "notifications.ticket-marker"
SIGNATURE_LENGTH = 32

# "[portal-ref:" as text may spell it: any case, spaces or a hyphen look-alike around the parts.
_MARKER_START = re.compile(r"\[\s*portal\s*[-\u2010-\u2015\u2212_ ]?\s*ref\s*:", re.IGNORECASE)


def _signature(delivery_key: str, secret: str | bytes | None = None) -> str:
    digest = salted_hmac(_SALT, delivery_key, secret=secret, algorithm="sha256").hexdigest()
    return digest[:SIGNATURE_LENGTH]


def ticket_marker(delivery_key: str, secret: str | bytes | None = None) -> str:
    """The marker a ticket opened for this delivery carries in its details (signed with
    SECRET_KEY unless another ``secret`` is given)."""
    return f"[portal-ref:{delivery_key}:{_signature(delivery_key, secret)}]"


def markers_to_find(delivery_key: str, *, accept_unsigned: bool = False) -> list[str]:
    """Every marker the delivery's ticket may carry, the current one first: signed with
    SECRET_KEY, then with each of SECRET_KEY_FALLBACKS, then (only for a delivery created
    before markers were signed) the unsigned one."""
    found = [ticket_marker(delivery_key)]
    for secret in getattr(settings, "SECRET_KEY_FALLBACKS", ()):
        marker = ticket_marker(delivery_key, secret)
        if marker not in found:
            found.append(marker)
    if accept_unsigned:
        found.append(f"[portal-ref:{delivery_key}]")
    return found


def neutralize(text: str) -> str:
    """``text`` with nothing in it that reads as a marker (client-supplied or not)."""
    text = unicodedata.normalize("NFKC", text or "")
    return _MARKER_START.sub(lambda m: "(" + m.group(0)[1:], text)
