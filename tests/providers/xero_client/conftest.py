from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from providers.xero.client import XeroClient, XeroIdentity

from . import openapi
from .payloads import TENANT_ID
from .stub import XeroStub

CLIENT_ID = "CLIENTID0123456789ABCDEF"
CLIENT_SECRET = "s3cret-Client-Secret_value"
#: Exchanges the documents do not cover: the token and revocation endpoints (RFC 6749/7009 forms,
#: asserted field by field in test_identity).
UNDOCUMENTED = ("/connect/token", "/connect/revocation")


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class TokenProvider:
    """Stands in for the Django side: hands out access tokens, counts forced refreshes."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens or ("acc-1", "acc-2", "acc-3"))
        self.calls: list[bool] = []

    def __call__(self, *, force_refresh: bool = False) -> str:
        self.calls.append(force_refresh)
        if force_refresh and len(self.tokens) > 1:
            self.tokens.pop(0)
        return self.tokens[0]


@pytest.fixture
def stub() -> Iterator[XeroStub]:
    server = XeroStub()
    yield server
    server.close()
    check_contract(server)


def check_contract(server: XeroStub) -> None:
    """Every request the client sent fits Xero's documents, and so does every canned answer."""
    problems: list[str] = []
    for seen, reply in server.exchanges:
        if seen.path in UNDOCUMENTED:
            continue
        doc = openapi.accounting() if seen.path.startswith("/api.xro/") else openapi.identity()
        problems += doc.request_errors(seen.method, seen.path, seen.query, seen.headers, seen.body)
        if server.replies_are_realistic and reply.body and not reply.drop:
            content_type = reply.headers.get("Content-Type", "")
            accept = next((v for k, v in seen.headers.items() if k.lower() == "accept"), None)
            if "json" in content_type:
                json.loads(reply.body)  # canned JSON must at least parse
            found = doc.response_errors(seen.method, seen.path, reply.status, content_type, reply.body, accept)
            problems += [f"answer {reply.status} to {seen.method} {seen.path}: {p}" for p in found or []]
    assert not problems, "\n".join(problems)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def tokens() -> TokenProvider:
    return TokenProvider()


@pytest.fixture
def make_client(stub: XeroStub, sleeps: SleepRecorder, tokens: TokenProvider) -> Callable[..., XeroClient]:
    def make(**options: Any) -> XeroClient:
        options.setdefault("sleep", sleeps)
        options.setdefault("timeout", (2, 5))
        url = options.pop("url", stub.api_url)
        provider = options.pop("provider", tokens)
        return XeroClient(url, provider, options.pop("tenant_id", TENANT_ID), **options)

    return make


@pytest.fixture
def make_identity(stub: XeroStub, sleeps: SleepRecorder) -> Callable[..., XeroIdentity]:
    def make(**options: Any) -> XeroIdentity:
        options.setdefault("sleep", sleeps)
        options.setdefault("timeout", (2, 5))
        options.setdefault("identity_url", stub.url)
        options.setdefault("connections_url", stub.url + "/connections")
        options.setdefault("authorize_url", "https://login.xero.com/identity/connect/authorize")
        return XeroIdentity(CLIENT_ID, CLIENT_SECRET, **options)

    return make
