"""E-mail addresses as the portal sends to them, whatever the field they came from held.

Invariants:
- A recipient is one address Django's ``validate_email`` accepts: no list separator, no
  display name, no line break, so building or sending the message cannot fail on it.
- A field holding several addresses (BMS e-mail fields do: ``a@x, b@y``, ``a@x; b@y``)
  gives each of them; a piece that is not an address is logged and skipped, never fatal.
- Unique case-insensitively, in the order first seen.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

logger = logging.getLogger(__name__)

# Between the addresses of one field: a comma, a semicolon or a line break.
_SEPARATORS = re.compile(r"[,;\r\n]+")
_ANGLE = re.compile(r"<([^<>]*)>")


def valid_addresses(values: Iterable[str | None], *, source: str) -> list[str]:
    """Every valid address in ``values`` (each may hold several), once; the rest logged."""
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        for piece in _SEPARATORS.split(value or ""):
            piece = piece.strip()
            if piece and "@" not in piece:  # no address in it at all: one line in the log
                logger.warning("Skipped an invalid e-mail address from %s: %r", source, piece[:254])
                continue
            for address in _candidates(piece):
                if not _is_valid(address):
                    logger.warning("Skipped an invalid e-mail address from %s: %r", source, address[:254])
                elif address.lower() not in seen:
                    seen.add(address.lower())
                    out.append(address)
    return out


def _candidates(piece: str) -> list[str]:
    """What may be an address in one piece: ``a@x`` of ``Name <a@x>``, else each word."""
    angle = _ANGLE.search(piece)
    return [angle.group(1).strip()] if angle else piece.split()


def _is_valid(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True
