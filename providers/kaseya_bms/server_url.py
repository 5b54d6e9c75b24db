"""Normalising and vetting the BMS Server URL an admin types (plain Python).

The portal makes requests to this URL from inside the MSP's network, so it is an SSRF
vector: only https to hosts on the public internet, unless the host:port is on the
insecure allow-list (a local sandbox, an on-premises test server).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

MAX_LENGTH = 200


class InvalidServerUrl(ValueError):
    """The message says what is wrong, in the admin's words."""


def _resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({info[4][0] for info in infos})


def normalize_server_url(
    value: str,
    *,
    allowed_insecure_hosts: Iterable[str] = (),
    resolve: Callable[[str], list[str]] | None = None,
) -> str:
    """Return ``scheme://host[:port]`` or raise InvalidServerUrl."""
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
    host_port = f"{host}:{port}" if port else host
    display_host = f"[{host}]" if ":" in host else host
    normalized = f"{scheme}://{display_host}{f':{port}' if port else ''}"
    allowed = {h.strip().lower() for h in allowed_insecure_hosts if h.strip()}
    is_allowed = host_port in allowed or host in allowed
    if scheme == "http" and not is_allowed:
        raise InvalidServerUrl("Plain http is not allowed: BMS credentials must travel over https://.")
    if is_allowed:
        return normalized
    try:
        addresses = [host] if _is_ip(host) else (resolve or _resolve)(host)
    except (OSError, UnicodeError):
        raise InvalidServerUrl(f"The host {host} cannot be found (DNS lookup failed).") from None
    if not addresses:
        raise InvalidServerUrl(f"The host {host} cannot be found (DNS lookup failed).")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global:
            raise InvalidServerUrl(
                f"The host {host} points to a private or local address ({ip}); "
                "the portal only connects to BMS servers on the internet."
            )
    return normalized


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
