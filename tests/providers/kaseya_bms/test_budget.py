"""Every BMS call counts (hardening item 9): one sliding-hour budget per tenant and endpoint,
shared by every process through Redis, with priorities, and one access token shared by the
installation's clients. A spent budget makes the sync wait and say so."""

import subprocess
import sys
import textwrap
import threading
import time

import pytest
from django.conf import settings as django_settings

from core.redis import get_redis
from integrations.models import SyncRun, SyncStatus, SyncTrigger
from integrations.registry import installation_of
from integrations.sync.service import sync_request, sync_run_execute
from providers.kaseya_bms.budget import Priority, SlidingHourBudget
from providers.kaseya_bms.exceptions import BmsRateLimited

ACCOUNTS = "GET /v2/crm/accounts/summary"


class FakeClock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _budget(limit, clock=None, priority=Priority.INTERACTIVE, tenant="t1"):
    return SlidingHourBudget(get_redis(), tenant, limit, priority=priority, **({"clock": clock} if clock else {}))


def test_hardening_9_the_hour_slides_across_a_clock_hour_boundary():
    # 00:59:00 on some day: the whole budget is spent in the hour's last minute...
    clock = FakeClock(1_000_000 * 3600 - 60)
    late, early = _budget(10, clock), _budget(10, clock, Priority.BACKGROUND)
    for budget in (late, early) * 4 + (late,):
        budget.acquire(ACCOUNTS)  # 9 = nine tenths: each priority could take that much
    early.acquire(ACCOUNTS)
    # ...so at 01:00:30, a new clock hour, nothing more may go (a clock-hour counter would allow 10 more).
    clock.now += 90
    with pytest.raises(BmsRateLimited) as spent:
        late.acquire(ACCOUNTS)
    assert spent.value.retry_after == pytest.approx(3600 - 90)
    clock.now += 3600 - 90 + 1  # an hour after them, the budget is whole again
    assert late.used(ACCOUNTS) == 0
    late.acquire(ACCOUNTS)


def test_hardening_9_priorities_keep_a_tenth_for_each_other():
    clock = FakeClock(2_000_000.0)
    sync, person = _budget(20, clock, Priority.BACKGROUND), _budget(20, clock)
    for _ in range(18):
        sync.acquire(ACCOUNTS)
    with pytest.raises(BmsRateLimited):
        sync.acquire(ACCOUNTS)  # the sync never starves a person
    person.acquire(ACCOUNTS)
    person.acquire(ACCOUNTS)
    with pytest.raises(BmsRateLimited):
        person.acquire(ACCOUNTS)  # and together they never pass the limit
    assert person.used(ACCOUNTS) == 20
    # Endpoints and tenants have budgets of their own.
    person.acquire("GET /v2/crm/contacts/summary")
    _budget(20, clock, tenant="t2").acquire(ACCOUNTS)


def test_hardening_9_concurrent_takers_in_two_processes_never_exceed_the_limit():
    script = textwrap.dedent(
        """
        import sys, time, redis
        from providers.kaseya_bms.budget import SlidingHourBudget
        from providers.kaseya_bms.exceptions import BmsRateLimited
        budget = SlidingHourBudget(redis.Redis.from_url(sys.argv[1]), "two-processes", 60)
        time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # both processes start together
        granted = 0
        for _ in range(40):  # two processes ask 80 of 54: each gets at least 14, whatever the timing
            try:
                budget.acquire("GET /v2/finance/invoices/summary")
                granted += 1
            except BmsRateLimited:
                pass
        print(granted)
        """
    )
    url, start_at = django_settings.CACHE_REDIS_URL, str(time.time() + 2)
    command = [sys.executable, "-c", script, url, start_at]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [worker.communicate(timeout=60) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    granted = [int(out) for out, _err in outputs]
    threads_granted = []

    def take():
        budget = SlidingHourBudget(get_redis(), "two-processes", 60)
        for _ in range(20):
            try:
                budget.acquire("GET /v2/finance/invoices/summary")
                threads_granted.append(1)
            except BmsRateLimited:
                pass

    threads = [threading.Thread(target=take) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) + len(threads_granted) == int(60 * 0.9)  # one priority's share, never more
    assert all(count > 0 for count in granted)  # both processes took from the one budget


@pytest.mark.django_db
def test_hardening_9_interactive_calls_take_from_the_budget_and_share_one_sign_in(bms_integration, bms_sandbox):
    bms_sandbox.control.clear_requests()
    # Three callers, as three requests or processes would: each builds its own client.
    for _ in range(3):
        installation = installation_of(bms_integration)
        installation.sub_issue_types(4)
    counts = bms_sandbox.control.request_counts()["by_endpoint"]
    assert counts.get("POST /v2/security/authenticate", 0) == 1  # one sign-in, the token shared
    budget = installation_of(bms_integration).budget(Priority.INTERACTIVE)
    assert budget.used("GET /v2/system/issuetypes/{issueTypeId}/issuesubtypes/lookup") == 3
    assert budget.used("POST /v2/security/authenticate") == 1


@pytest.mark.django_db
def test_hardening_9_test_connection_signs_in_afresh(bms_integration, bms_sandbox):
    installation_of(bms_integration).sub_issue_types(4)  # a token is now shared
    bms_sandbox.control.clear_requests()
    assert installation_of(bms_integration).test_connection().passed
    assert bms_sandbox.control.request_counts()["by_endpoint"].get("POST /v2/security/authenticate", 0) == 1


@pytest.mark.django_db(transaction=True)
def test_a_spent_budget_makes_the_sync_wait_and_say_so(bms_integration, settings, admin_client):
    settings.BMS_HOURLY_REQUEST_LIMIT = 2
    run = sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW)
    outcome = sync_run_execute(run.pk)
    run.refresh_from_db()
    assert outcome.status == "waiting" and 0 < outcome.resume_in <= 3600
    assert run.status == SyncStatus.WAITING
    assert "request budget is spent" in run.progress["message"]
    card = admin_client.get("/integrations/kaseya-bms/card/").content.decode()
    assert "Waiting" in card and "request budget is spent" in card
    # Sync Now while it waits starts nothing.
    page = admin_client.post("/integrations/kaseya-bms/sync/", follow=True).content.decode()
    assert "A sync is already running." in page
    assert SyncRun.objects.count() == 1
