"""The Stripe pacer: never more than the rate in any one second, shared through Redis by every
process, kept in process while Redis fails, and refusing (transient) rather than parking a
worker; the installation's gateways are paced by STRIPE_REQUESTS_PER_SECOND."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from benchmarks.autopay import peak_rate
from providers.stripe.exceptions import StripeRateLimited
from providers.stripe.pacing import RequestPacer


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_in_process_the_rate_is_never_passed_in_any_second():
    clock = FakeClock()
    pacer = RequestPacer(25, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(200):
        pacer("POST /v1/payment_intents")
        sent.append(clock.now)
    assert peak_rate(sent) <= 25 and peak_rate(sent) == pacer.limit == 22
    assert sent[-1] - sent[0] < 200 / 22 + 1  # and it goes as fast as that allows


def test_a_wait_longer_than_allowed_is_refused_as_transient():
    clock = FakeClock()
    pacer = RequestPacer(2, clock=clock, sleep=clock.sleep, max_wait=0.5)
    pacer("GET /v1/payment_intents/{id}")
    with pytest.raises(StripeRateLimited) as refused:
        pacer("GET /v1/payment_intents/{id}")
    assert refused.value.transient and refused.value.retry_after >= 1


def test_processes_share_the_rate_through_redis(settings):
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("stripe:test-pace")
    sent: list[float] = []
    lock = threading.Lock()

    def worker():
        pacer = RequestPacer(10, redis=client, key="stripe:test-pace")  # one per process, one log
        for _ in range(8):
            pacer("POST /v1/payment_intents")
            with lock:
                sent.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sent) == 24 and peak_rate(sent) <= 10
    assert max(sent) - min(sent) >= 1.5  # 24 requests at 9 a second take over two seconds


def test_while_redis_fails_the_log_is_kept_in_process():
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    clock = FakeClock()
    pacer = RequestPacer(5, redis=dead, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(12):
        pacer("POST /v1/refunds")
        sent.append(clock.now)
    assert peak_rate(sent) <= 5


def test_the_installations_gateway_is_paced(settings, db):
    from providers.stripe.installation import shared_pacer

    assert shared_pacer(25.0).limit == 22 and shared_pacer(25.0) is shared_pacer(25.0)
    assert shared_pacer(0) is None
    assert settings.STRIPE_REQUESTS_PER_SECOND == 25.0
