"""pytest fixtures: register with `pytest_plugins = ["bms_sandbox.pytest_plugin"]`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .testing import SandboxControl, SandboxServer


@dataclass
class SandboxHandle:
    url: str
    control: SandboxControl
    tenant: str
    username: str
    password: str


@pytest.fixture(scope="session")
def bms_sandbox_server() -> Iterator[SandboxServer]:
    """One sandbox process (default demo tenant) for the whole session."""
    with SandboxServer() as server:
        yield server


@pytest.fixture
def bms_sandbox(bms_sandbox_server: SandboxServer) -> Iterator[SandboxHandle]:
    """The session sandbox, reset to its generated state before each test."""
    server = bms_sandbox_server
    server.control.reset()
    yield SandboxHandle(server.url, server.control, server.tenant, server.username, server.password)
