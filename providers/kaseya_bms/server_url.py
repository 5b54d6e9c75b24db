"""Normalising and vetting the BMS Server URL an admin types (plain Python).

The portal makes requests to this URL from inside the MSP's network, so it is an SSRF
vector: only https to hosts on the public internet, unless the host:port is on the
insecure allow-list (a local sandbox, an on-premises test server).

- Every resolved address must be global, including the IPv4 address an IPv6 one embeds
  (IPv4-mapped, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``, 6to4 ``2002::/16``, Teredo).
- ``vet_server_url`` also returns the vetted address: the client connects to it and never
  resolves the name again (no DNS-rebinding window), verifying TLS against the host name.
- An allow-list entry without a port allows only the scheme's default port; ``host:*`` allows
  any port of the host (tests, with sandboxes on ephemeral ports).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_LENGTH = 200


class InvalidServerUrl(ValueError):
    """The message says what is wrong, in the admin's words."""


def _resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({info[4][0] for info in infos})


@dataclass(frozen=True)
class VettedServerUrl:
    url: str  # scheme://host[:port]
    host: str
    address: str | None  # the checked address to connect to; None for an allow-listed host


def normalize_server_url(
    value: str,
    *,
    allowed_insecure_hosts: Iterable[str] = (),
    resolve: Callable[[str], list[str]] | None = None,
) -> str:
    """Return ``scheme://host[:port]`` or raise InvalidServerUrl."""
    return vet_server_url(value, allowed_insecure_hosts=allowed_insecure_hosts, resolve=resolve).url


def vet_server_url(
    value: str,
    *,
    allowed_insecure_hosts: Iterable[str] = (),
    resolve: Callable[[str], list[str]] | None = None,
) -> VettedServerUrl:
    """The normalized URL with the address to connect to, or raise InvalidServerUrl."""
    raw = (value or "").strip()
    if not raw:
        raise InvalidServerUrl("Enter the BMS server, e.g. bms.kaseya.com or https://api.bmsemea.kaseya.com.")
    if len(raw) > MAX_LENGTH:
        raise InvalidServerUrl(f"The server URL is too long (at most {MAX_LENGTH} characters).")
    if "://" not in raw:
        raw = "https://" + raw  # a bare host, as BMS's own docs write it
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InvalidServerUrl(f"This is not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise InvalidServerUrl("The server URL must start with https://.")
    if parts.username or parts.password or "@" in parts.netloc:
        raise InvalidServerUrl("Do not put a user name or password in the URL; use the Username and Password fields.")
    if parts.path not in {"", "/"}:
        raise InvalidServerUrl("Enter only the server, without a path (for example https://api.bms.kaseya.com).")
    if parts.query or raw.endswith("?"):
        raise InvalidServerUrl("Enter only the server, without a query string (?…).")
    if parts.fragment or raw.endswith("#"):
        raise InvalidServerUrl("Enter only the server, without a fragment (#…).")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InvalidServerUrl("The server URL has no host name.")
    if not _is_ip(host) and not _HOST_NAME.fullmatch(_ascii(host)):
        raise InvalidServerUrl(
            f"“{value.strip()}” is not a valid server address. Enter a host name such as api.bms.kaseya.com "
            "or a URL such as https://api.bms.kaseya.com."
        )
    host_port = f"{host}:{port}" if port else host
    display_host = f"[{host}]" if ":" in host else host
    normalized = f"{scheme}://{display_host}{f':{port}' if port else ''}"
    allowed = {h.strip().lower() for h in allowed_insecure_hosts if h.strip()}
    # An entry without a port allows the scheme's default port only.
    is_allowed = (
        host_port in allowed or f"{host}:*" in allowed or (host in allowed and port in (None, DEFAULT_PORTS[scheme]))
    )
    if scheme == "http" and not is_allowed:
        raise InvalidServerUrl("Plain http is not allowed: BMS credentials must travel over https://.")
    if is_allowed:
        return VettedServerUrl(normalized, host, None)
    try:
        addresses = [host] if _is_ip(host) else (resolve or _resolve)(host)
    except (OSError, UnicodeError):
        raise InvalidServerUrl(f"The host {host} cannot be found (DNS lookup failed).") from None
    if not addresses:
        raise InvalidServerUrl(f"The host {host} cannot be found (DNS lookup failed).")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not _is_public(ip):
            raise InvalidServerUrl(
                f"The host {host} points to a private or local address ({ip}); "
                "the portal only connects to BMS servers on the internet."
            )
    return VettedServerUrl(normalized, host, addresses[0].split("%", 1)[0])


DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


def _ascii(host: str) -> str:
    """An internationalized host name in the ASCII form DNS uses ("" when it has none)."""
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return ""


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Global, and so is any IPv4 address it embeds (an embedded private address is a way in)."""
    if ip.version == 4:
        return ip.is_global
    embedded: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        embedded.append(ip.ipv4_mapped)
    if any(ip in net for net in _NAT64):
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None or ip in _SIX_TO_FOUR:
        embedded.append(ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF))
    if ip.teredo is not None:
        embedded.extend(ip.teredo)
    if embedded:
        return all(v4.is_global for v4 in embedded)
    return ip.is_global


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
