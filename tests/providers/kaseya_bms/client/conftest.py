"""Fixtures for the client tests: over the stub server (``make_client``) and over the sandbox
(``connect``, ``client``; bms_sandbox.pytest_plugin fixtures)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from providers.kaseya_bms.client import BmsClient

from .stub import StubServer

PASSWORD = "s3cret-Pa55word"


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(stub: StubServer, sleeps: SleepRecorder) -> Callable[..., BmsClient]:
    def make(**options: Any) -> BmsClient:
        options.setdefault("sleep", sleeps)
        options.setdefault("timeout", (2, 5))
        url = options.pop("url", stub.url)
        return BmsClient(url, "Demo MSP", "api@demo.local", PASSWORD, **options)

    return make


@pytest.fixture
def connect(bms_sandbox, sleeps: SleepRecorder) -> Callable[..., BmsClient]:
    def make(
        username: str | None = None, password: str | None = None, tenant: str | None = None, **options: Any
    ) -> BmsClient:
        options.setdefault("sleep", sleeps)
        options.setdefault("max_attempts", 8)
        options.setdefault("timeout", (2, 10))
        return BmsClient(
            bms_sandbox.url,
            tenant or bms_sandbox.tenant,
            username or bms_sandbox.username,
            password or bms_sandbox.password,
            **options,
        )

    return make


@pytest.fixture
def client(connect: Callable[..., BmsClient]) -> BmsClient:
    return connect()
