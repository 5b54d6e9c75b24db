"""pytest fixtures: register with `pytest_plugins = ["xero_sandbox.pytest_plugin"]`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from .testing import XeroControl, XeroSandboxServer


@dataclass
class XeroSandboxHandle:
    url: str
    control: XeroControl
    client_id: str
    client_secret: str
    tenant_id: str  # the main organisation (the BMS tenant's Xero)


@pytest.fixture(scope="session")
def xero_sandbox_server() -> Iterator[XeroSandboxServer]:
    """One Xero sandbox (default demo organisation, in a thread) for the whole session."""
    with XeroSandboxServer(in_thread=True) as server:
        yield server


@pytest.fixture
def xero_sandbox(xero_sandbox_server: XeroSandboxServer) -> Iterator[XeroSandboxHandle]:
    """The session Xero sandbox, reset (data, tokens, faults, limits, clock) before each test."""
    server = xero_sandbox_server
    server.control.reset()
    main = next(t for t in server.control.health()["tenants"] if t["main"])
    yield XeroSandboxHandle(server.url, server.control, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, main["tenantId"])
