"""Fixtures for the sandbox's own tests (plain pytest: no Django, no database)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

# The bms_sandbox fixtures come from `pytest_plugins = ["bms_sandbox.pytest_plugin"]` in
# tests/conftest.py (or `-p bms_sandbox.pytest_plugin` when running without Django).


class Api:
    """A requests.Session bound to the sandbox, like the product's BMS client would use."""

    def __init__(self, url: str, tenant: str, username: str, password: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.tenant, self.username, self.password = tenant, username, password

    def login(self, username: str | None = None, password: str | None = None) -> dict[str, Any]:
        r = self.session.post(
            f"{self.url}/v2/security/authenticate",
            data={
                "GrantType": "password",
                "UserName": username or self.username,
                "Password": password or self.password,
                "Tenant": self.tenant,
            },
            timeout=10,
        )
        assert r.status_code == 200, r.text
        result = r.json()["result"]
        self.session.headers["Authorization"] = f"Bearer {result['accessToken']}"
        return result

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.url + path, params=params, timeout=10)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=10)


@pytest.fixture
def api(bms_sandbox: Any) -> Iterator[Api]:
    client = Api(bms_sandbox.url, bms_sandbox.tenant, bms_sandbox.username, bms_sandbox.password)
    client.login()
    yield client
    client.session.close()
