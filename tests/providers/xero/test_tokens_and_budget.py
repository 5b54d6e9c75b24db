"""Tokens under concurrency (one refresh for many workers, stored before use) and the shared
per-organisation budget (60 a minute, 5 at once, 5,000 a day; Xero's 429 and Retry-After honoured)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from integrations.registry import installation_of
from providers.xero.exceptions import RateLimitProblem, XeroRateLimited
from providers.xero.pacing import XeroTenantBudget
from providers.xero.tokens import access_token, tokens_read, tokens_store
from tests.providers.xero.conftest import FakeClock

TOKEN = "POST /connect/token"
ORGANISATION = "GET /api.xro/2.0/Organisation"


def _expire_locally(integration_id: int) -> None:
    stored = tokens_read(integration_id)
    tokens_store(
        integration_id=integration_id, tokens=replace(stored, expires_at=timezone.now() - timedelta(minutes=1))
    )


def _in_threads(count: int, work) -> tuple[list, list]:
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(work())
        except Exception as exc:  # collected for the assertion
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results, errors


# --- tokens ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_token_requests_make_one_refresh(xero_connected, xero_sandbox):
    before = tokens_read(xero_connected.pk)
    _expire_locally(xero_connected.pk)
    xero_sandbox.control.clear_requests()
    results, errors = _in_threads(10, lambda: access_token(xero_connected.pk))
    assert not errors, errors
    assert len(results) == 10 and len(set(results)) == 1
    assert xero_sandbox.control.requests()["by_endpoint"].get(TOKEN) == 1
    after = tokens_read(xero_connected.pk)
    assert after.access_token == results[0]  # what every worker got is what is stored
    assert after.refresh_token != before.refresh_token and after.fresh(timezone.now())


@pytest.mark.django_db(transaction=True)
def test_ten_workers_refused_by_xero_at_once_make_one_refresh(xero_connected, xero_sandbox):
    """Xero expired the token (our clock does not know): every worker's call gets a 401, each asks for
    a newer token, one refreshes, all replay once and succeed."""
    installation = installation_of(xero_connected)
    xero_sandbox.control.expire_tokens()
    xero_sandbox.control.clear_requests()

    def call():
        with installation.client() as client:
            return client.get_organisation().name

    results, errors = _in_threads(10, call)
    assert not errors, errors
    assert results == ["Demo MSP"] * 10
    counts = xero_sandbox.control.requests()["by_endpoint"]
    assert counts.get(TOKEN) == 1
    assert counts[ORGANISATION] == 20  # ten refused with 401, ten replayed


@pytest.mark.django_db(transaction=True)
def test_the_new_refresh_token_is_stored_before_the_access_token_is_used(xero_connected, xero_sandbox, monkeypatch):
    """If storing fails, the new access token is never handed out; the old refresh token still works
    (Xero's grace period) for the next attempt."""
    _expire_locally(xero_connected.pk)
    import providers.xero.tokens as tokens_module

    def fail(**kwargs):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(tokens_module, "tokens_store", fail)
    with pytest.raises(RuntimeError):
        access_token(xero_connected.pk)
    monkeypatch.undo()
    token = access_token(xero_connected.pk)
    assert token == tokens_read(xero_connected.pk).access_token
    with installation_of(xero_connected).client() as client:
        assert client.get_organisation().name == "Demo MSP"


def test_tokens_never_reach_the_log(xero_connected, caplog):
    _expire_locally(xero_connected.pk)
    with caplog.at_level("DEBUG"):
        token = access_token(xero_connected.pk)
    stored = tokens_read(xero_connected.pk)
    assert token not in caplog.text and stored.refresh_token not in caplog.text
    assert stored.refresh_token not in repr(stored) and token not in repr(stored)


# --- the budget ------------------------------------------------------------------------------------


def _budget(fake: FakeClock, **kwargs) -> XeroTenantBudget:
    return XeroTenantBudget("tenant-under-test", clock=fake.clock, sleep=fake.sleep, **kwargs)


def _call(budget: XeroTenantBudget, retry_after: float = 0.0) -> None:
    budget.acquire("GET /Invoices")
    budget.release("GET /Invoices", retry_after=retry_after)


def test_sixty_calls_a_minute_then_the_budget_waits(db):
    fake = FakeClock()
    budget = _budget(fake, max_wait=120)
    for _ in range(60):
        _call(budget)
    assert fake.slept == []
    _call(budget)  # the 61st waits for the oldest to leave the minute
    assert fake.slept and 59 <= sum(fake.slept) <= 61


def test_a_long_wait_raises_rate_limited_instead_of_parking_the_worker(db):
    fake = FakeClock()
    budget = _budget(fake, max_wait=5)
    for _ in range(60):
        _call(budget)
    with pytest.raises(XeroRateLimited) as caught:
        budget.acquire("GET /Invoices")
    assert caught.value.problem == RateLimitProblem.MINUTE and 55 <= caught.value.retry_after <= 61
    assert caught.value.transient


def test_five_at_once_across_clients(db):
    fake = FakeClock()
    holders = [_budget(fake, max_wait=0.2) for _ in range(5)]
    for budget in holders:
        budget.acquire("GET /Contacts")  # five requests in flight, in five workers
    sixth = _budget(fake, max_wait=0.2)
    with pytest.raises(XeroRateLimited) as caught:
        sixth.acquire("GET /Contacts")
    assert caught.value.problem == RateLimitProblem.CONCURRENT
    holders[0].release("GET /Contacts")
    sixth.acquire("GET /Contacts")  # a slot freed up
    assert holders[1].usage()["concurrent"] == 5


def test_a_dead_workers_slot_expires(db):
    fake = FakeClock()
    for _ in range(5):
        _budget(fake).acquire("GET /Contacts")  # never released: their workers died
    fake.now += 121  # the lease
    _budget(fake, max_wait=0).acquire("GET /Contacts")


def test_the_day_budget_is_not_waited_for(db):
    fake = FakeClock()
    budget = _budget(fake, day_limit=3, max_wait=10_000)
    for _ in range(3):
        _call(budget)
    fake.now += 120  # the minute is clear, the day is not
    with pytest.raises(XeroRateLimited) as caught:
        budget.acquire("GET /Invoices")
    assert caught.value.problem == RateLimitProblem.DAY and caught.value.retry_after > 80_000


def test_xeros_retry_after_holds_every_client_of_the_tenant(db):
    fake = FakeClock()
    first, other = _budget(fake), _budget(fake)
    _call(first, retry_after=7)  # Xero answered 429 with Retry-After: 7
    other.acquire("GET /Invoices")
    assert 6.9 <= sum(fake.slept) <= 7.1


def test_another_tenant_has_its_own_budget(db):
    fake = FakeClock()
    budget = _budget(fake, max_wait=0)
    for _ in range(60):
        _call(budget)
    XeroTenantBudget("another-tenant", clock=fake.clock, sleep=fake.sleep, max_wait=0).acquire("GET /Invoices")


def test_a_429_storm_is_waited_out(xero_installation, xero_sandbox):
    """Xero answers 429 (Retry-After: 2) to most calls for a while: the client waits as told, through
    the shared budget, and the work completes."""
    fake = FakeClock()
    xero_sandbox.control.set_faults(rate_limit_rate=0.6, retry_after=2, rate_limit_problem="minute", fault_seed=3)
    xero_sandbox.control.clear_requests()
    with xero_installation.client(sleep=fake.sleep, clock=fake.clock, max_attempts=20) as client:
        invoices = list(client.iter_invoices(page_size=50))
    assert len(invoices) > 100
    statuses = [r["status"] for r in xero_sandbox.control.requests()["recent"]]
    assert statuses.count(429) >= 3 and statuses.count(200) == -(-len(invoices) // 50)
    assert fake.slept.count(2.0) >= 3  # Retry-After honoured


def test_the_budget_paces_real_calls(xero_installation, xero_sandbox):
    fake = FakeClock()
    with xero_installation.client(sleep=fake.sleep, clock=fake.clock) as client:
        for _ in range(3):
            client.get_organisation()
        usage = client._transport.pacer.usage()
    assert usage == {"minute": 3, "day": 3, "concurrent": 0}
