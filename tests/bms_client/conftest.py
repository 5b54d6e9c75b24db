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
