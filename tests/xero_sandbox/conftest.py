"""Fixtures for the Xero sandbox's own tests (plain pytest: no Django, no database).

Every answer a test gets through `XeroClient` is validated against the OpenAPI documents
on the spot (see spec.py); `VALIDATED` counts them per kind for the summary test.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from xero_sandbox.pytest_plugin import xero_sandbox, xero_sandbox_server  # noqa: F401 - fixtures
from xero_sandbox.testing import API_BASE

from . import spec

VALIDATED: Counter[str] = Counter()


class XeroClient:
    """A requests.Session talking to the sandbox like the portal's Xero client would."""

    def __init__(self, url: str, tenant_id: str | None = None, access_token: str | None = None) -> None:
        self.url = url
        self.session = requests.Session()
        self.tenant_id = tenant_id
        if access_token:
            self.session.headers["Authorization"] = f"Bearer {access_token}"
        self.session.headers["Accept"] = "application/json"

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", None) or {})
        full = path if path.startswith(("/connect", "/identity", "/connections")) else API_BASE + path
        if self.tenant_id and full.startswith(API_BASE) and "xero-tenant-id" not in {k.lower() for k in headers}:
            headers["xero-tenant-id"] = self.tenant_id
        kw.setdefault("timeout", 20)
        r = self.session.request(method, self.url + full, headers=headers, allow_redirects=False, **kw)
        kind = spec.validate(method, full, r.status_code, r.headers.get("Content-Type", ""), r.content)
        VALIDATED[kind.split(":")[0]] += 1
        return r

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.request("PUT", path, json=body, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.request("POST", path, json=body, **kw) if body is not None else self.request("POST", path, **kw)


@pytest.fixture
def xero(xero_sandbox: Any) -> Iterator[XeroClient]:  # noqa: F811 - the plugin's fixture
    """A client with a fresh grant on the main organisation (all accounting scopes)."""
    tokens = xero_sandbox.control.grant()
    client = XeroClient(xero_sandbox.url, xero_sandbox.tenant_id, tokens["access_token"])
    yield client
    client.session.close()


@pytest.fixture
def frozen(xero_sandbox: Any) -> float:  # noqa: F811
    """Freeze the sandbox clock (at the current second); returns the instant."""
    at = float(int(time.time()))
    xero_sandbox.control.set_clock(frozen_at=at)
    return at
