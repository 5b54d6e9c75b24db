"""The client address of a request: the one answer every throttle (and log line) uses.

Invariants: X-Forwarded-For is believed only as far as proxies listed in TRUSTED_PROXIES
wrote it. The walk starts at REMOTE_ADDR; while the address in hand is a trusted proxy,
the hop that proxy appended (the next one from the right) becomes the address in hand; the
first untrusted address is the client. A client can put anything at the left of the
header and still lands on its own address; without TRUSTED_PROXIES the header is ignored.
The entry "unix" trusts requests that arrive over a Unix socket (no REMOTE_ADDR), as from
a proxy in front of `gunicorn --bind unix:...`.
"""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache

from django.conf import settings

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
UNIX_SOCKET = "unix"  # a TRUSTED_PROXIES entry, and the address of a request over a Unix socket
_warned: set[str] = set()


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(
        ipaddress.ip_network(entry.strip(), strict=False)
        for entry in entries
        if entry.strip() and entry.strip() != UNIX_SOCKET
    )


def _parse(text: str) -> IPAddress | None:
    """An address as found in REMOTE_ADDR or one hop of X-Forwarded-For ("[v6]:port" and
    "v4:port" included), IPv4-mapped IPv6 as IPv4; None when it is not an address."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_trusted_proxy(address: IPAddress | str | None) -> bool:
    if address == UNIX_SOCKET:
        return UNIX_SOCKET in (entry.strip() for entry in settings.TRUSTED_PROXIES)
    if address is None or isinstance(address, str):
        return False
    return any(address in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def _remote(request) -> IPAddress | str | None:
    remote_text = request.META.get("REMOTE_ADDR", "")
    return _parse(remote_text) if remote_text else UNIX_SOCKET


def remote_is_trusted_proxy(request) -> bool:
    return is_trusted_proxy(_remote(request))


def client_address(request) -> str:
    """The address of whoever sent the request ("unix" over a Unix socket from no trusted
    proxy; REMOTE_ADDR as given when it is not an address)."""
    address = _remote(request)
    if address is None:
        return request.META.get("REMOTE_ADDR", "")
    forwarded = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if forwarded and not is_trusted_proxy(address):
        warn_untrusted_proxy(str(address), "X-Forwarded-For")
    for hop in reversed(forwarded):
        if not is_trusted_proxy(address):
            break
        previous = _parse(hop)
        if previous is None:  # not an address (e.g. "unknown"): the proxy is all we know
            break
        address = previous
    return str(address)


def warn_untrusted_proxy(remote: str, header: str) -> None:
    """Say once per address (a private one: a proxy, most likely) that its header is ignored."""
    if remote in _warned or len(_warned) > 100:
        return
    parsed = _parse(remote)
    if remote != UNIX_SOCKET and (parsed is None or parsed.is_global):
        return
    _warned.add(remote)
    logger.warning(
        "A request from %s carries %s, which is ignored: %s is not in TRUSTED_PROXIES. If the portal is behind "
        "a proxy at that address, list it in TRUSTED_PROXIES, or every client shares the proxy's address.",
        remote,
        header,
        remote,
    )
