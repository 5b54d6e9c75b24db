"""LocalHourlyPacer with a fake clock, and its use by the client."""

from __future__ import annotations

import pytest

from providers.kaseya_bms.exceptions import BmsRateLimited
from providers.kaseya_bms.pacing import LocalHourlyPacer, RequestPacer

from .stub import ok


class FakeTime:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def max_in_any_hour(stamps: list[float]) -> int:
    return max(sum(1 for t in stamps if start <= t < start + 3600) for start in stamps)


def test_protocol():
    assert isinstance(LocalHourlyPacer(), RequestPacer)


def test_sliding_window_waits_for_a_slot():
    fake = FakeTime()
    pacer = LocalHourlyPacer(3, clock=fake.clock, sleep=fake.sleep, max_wait=3600)
    stamps = []
    for _ in range(7):
        pacer.acquire("GET /x")
        stamps.append(fake.now)
        fake.now += 10
    assert max_in_any_hour(stamps) <= 3
    assert stamps[3] >= stamps[0] + 3600
    assert pacer.used("GET /other") == 0


def test_budget_is_per_endpoint():
    fake = FakeTime()
    pacer = LocalHourlyPacer(1, clock=fake.clock, sleep=fake.sleep, max_wait=0)
    pacer.acquire("GET /a")
    pacer.acquire("GET /b")
    with pytest.raises(BmsRateLimited) as err:
        pacer.acquire("GET /a")
    assert 3599 <= err.value.retry_after <= 3600
    assert not fake.slept


def test_client_paces_every_request(stub, make_client):
    fake = FakeTime()
    pacer = LocalHourlyPacer(5, clock=fake.clock, sleep=fake.sleep, max_wait=3600)
    sent: list[float] = []
    stub.on("GET", "/v2/system/queues/lookup", lambda seen: (sent.append(fake.now), ok([]))[1])
    client = make_client(pacer=pacer, clock=fake.clock)
    for _ in range(12):
        client.list_queues()
    assert max_in_any_hour(sent) == 5
    assert sum(fake.slept) >= 2 * 3600 - 1
    assert client.request_counts == {"POST /v2/security/authenticate": 1, "GET /v2/system/queues/lookup": 12}


def test_spent_budget_raises_without_sending(stub, make_client):
    fake = FakeTime()
    pacer = LocalHourlyPacer(2, clock=fake.clock, sleep=fake.sleep, max_wait=60)
    stub.on("GET", "/v2/system/queues/lookup", ok([]))
    client = make_client(pacer=pacer, clock=fake.clock)
    client.list_queues()
    client.list_queues()
    with pytest.raises(BmsRateLimited):
        client.list_queues()
    assert len(stub.calls("/v2/system/queues/lookup")) == 2
