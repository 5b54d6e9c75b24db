"""What every vendor client's HTTP path does the same way, in plain Python (no Django).

The BMS and Xero transports extend these pieces with their own error trees: each caller passes
the exception to raise, so a failure still leaves a client as its vendor's ``IntegrationError``.
"""

from __future__ import annotations

import email.utils
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import requests


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of a vendor API, named as its OpenAPI document names it."""

    method: str
    template: str  # the OpenAPI path, e.g. /Invoices/{InvoiceID}

    @property
    def key(self) -> str:
        """Pacing/counting key: method + path template, e.g. ``GET /Invoices/{InvoiceID}``.

        The document's own placeholder names are kept, as vendors budget per endpoint.
        """
        return f"{self.method} {self.template}"

    def path(self, *values: object) -> str:
        parts = iter(values)
        return re.sub(r"\{[^}]+\}", lambda _m: quote(str(next(parts)), safe=""), self.template)


def retry_after_seconds(response: requests.Response, clock: Callable[[], float]) -> float:
    """``Retry-After`` as seconds from now: a number or an HTTP date; 0 when absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, when.timestamp() - clock())


def backoff_delay(rng: random.Random, attempt: int, *, base: float, cap: float) -> float:
    """Capped exponential backoff with full jitter for the ``attempt``-th failure (1-based)."""
    return rng.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def short_reason(exc: BaseException) -> str:
    """The useful, innermost text of a requests error (it nests urllib3's), at most 200 characters."""
    text = str(exc.args[0] if exc.args else exc)
    match = re.search(r"\(Caused by \w+\((.*)\)\)\s*$", text)
    text = match.group(1) if match else text
    return text[:200]


def read_capped(
    response: requests.Response,
    max_bytes: int,
    *,
    too_large: Exception,
    dropped: Callable[[requests.exceptions.RequestException], Exception],
    chunk_size: int = 64 * 1024,
) -> bytes:
    """A streamed body, whole; ``too_large`` past ``max_bytes`` (declared or read), ``dropped(exc)``
    when the connection breaks mid-answer. One oversized answer cannot exhaust a worker's memory."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size):
            size += len(chunk)
            if size > max_bytes:
                raise too_large
            chunks.append(chunk)
    except requests.exceptions.RequestException as exc:
        raise dropped(exc) from exc
    return b"".join(chunks)


class RecordFields:
    """Case-insensitive, type-tolerant read access to one vendor record (a JSON object).

    Vendors spell field names inconsistently (``InvoiceID``, ``invoiceId``) and send numbers as
    strings now and then; a reader that tolerates both keeps that out of every mapping.
    Subclasses add the vendor's date formats (``when``).
    """

    __slots__ = ("_by_lower", "raw")

    def __init__(self, raw: Mapping[str, Any] | None) -> None:
        self.raw: dict[str, Any] = dict(raw or {})
        self._by_lower = {str(k).lower(): v for k, v in self.raw.items()}

    def has(self, *names: str) -> bool:
        return any(n.lower() in self._by_lower for n in names)

    def get(self, *names: str) -> Any:
        """First non-null value among ``names`` (aliases, e.g. misspellings in a spec)."""
        for name in names:
            value = self._by_lower.get(name.lower())
            if value is not None:
                return value
        return None

    def text(self, *names: str) -> str | None:
        value = self.get(*names)
        if value is None or isinstance(value, Mapping | list):
            return None
        return str(value)

    #: Integers outside ±this are treated as unreadable (they would not fit a database column).
    INTEGER_BOUND = 2**63

    def integer(self, *names: str) -> int | None:
        value = self.get(*names)
        if value is None or isinstance(value, bool):
            return None
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity
            return None
        return number if -self.INTEGER_BOUND <= number < self.INTEGER_BOUND else None

    def flag(self, *names: str, default: bool = False) -> bool:
        value = self.get(*names)
        if value is None:
            return default
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    def decimal(self, *names: str) -> Decimal | None:
        value = self.get(*names)
        if value is None or isinstance(value, bool):
            return None
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None

    def when(self, *names: str) -> datetime | None:
        raise NotImplementedError

    def child(self, *names: str):
        value = self.get(*names)
        return type(self)(value if isinstance(value, Mapping) else None)

    def objects(self, *names: str) -> list:
        value = self.get(*names)
        if not isinstance(value, list):
            return []
        return [type(self)(item) for item in value if isinstance(item, Mapping)]
