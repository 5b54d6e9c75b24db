"""The Xero benchmark's figures and phases (the benchmark itself takes minutes: `make bench`).

The calls a listing needs and the time Xero's limits impose are computed, so they are checked
here; the orchestration is run with the jobs replaced by recorders."""

from __future__ import annotations

import pytest

import benchmarks.xero as bench

FULL = {"contacts": 1100, "invoices": 100_447}


def test_the_minimum_is_one_call_per_page_of_each_listing():
    assert bench.minimum_calls(FULL) == 2 + 101
    assert bench.minimum_calls(FULL, page_size=100) == 11 + 1005
    assert bench.minimum_calls({"contacts": 0, "invoices": 1000}) == 1 + 1  # an empty listing still costs a call


@pytest.mark.parametrize(
    ("calls", "days", "minutes"),
    [
        (2, 0, 0),
        (60, 0, 0),  # the first 60 go at once
        (61, 0, 1),
        (103, 0, 1),
        (1016, 0, 16),
        (5000, 0, 83),
        (5001, 1, 0),  # the 5,001st waits a day for the first to leave the day's window
        (12_345, 2, 39),
    ],
)
def test_the_time_xeros_limits_impose(calls, days, minutes):
    t = bench.real_tenant_time(calls)
    assert (t["days_waiting_for_the_day_limit"], t["minutes_waiting_for_the_minute_limit"]) == (days, minutes)
    assert t["seconds"] == days * 86400 + minutes * 60
    assert t["share_of_a_days_budget"] == calls / 5000


def test_the_benchmark_database_is_its_own():
    assert bench.database_beside("postgres://postgres@127.0.0.1:5432/portal") == (
        "postgres://postgres@127.0.0.1:5432/portal_xero"
    )
    assert bench.database_beside("sqlite:///db.sqlite3") is None
    assert bench.database_beside("") is None


class RecordingControl:
    def __init__(self, log: list[str]):
        self.log = log

    def health(self) -> dict:
        return {"tenants": [{"tenantId": "t-main", "contacts": 1100, "main": True}]}

    def clear_requests(self) -> None:
        self.log.append("clear calls")

    def requests(self) -> dict:
        return {
            "by_endpoint": {
                "GET /api.xro/2.0/Contacts": 2,
                "GET /api.xro/2.0/Invoices": 101,
                "GET /api.xro/2.0/Organisation": 9,
                "GET /connections": 4,  # not the Accounting API: not counted against its limits
            }
        }


class RecordingSandbox:
    def __init__(self, log: list[str], options: dict):
        self.log, self.options = log, options
        self.control = RecordingControl(log)
        self.url = "http://sandbox"
        self.proc = None  # in-process: no CPU time of its own to read

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def phases(monkeypatch) -> dict:
    recorded: dict = {"log": [], "sandbox": None}
    counts = {
        "contacts": {"created": 1100, "updated": 0, "unchanged": 0},
        "invoices": {"created": 100_447, "updated": 0, "unchanged": 0},
    }

    def sandbox(**options):
        recorded["sandbox"] = RecordingSandbox(recorded["log"], options)
        return recorded["sandbox"]

    def run_job(args: list[str], env: dict) -> dict:
        recorded["log"].append(" ".join(a for a in args if a not in ("http://sandbox", "t-main")))
        if args[0] == "change":
            return {"invoices": 100, "contacts": 10, "oldest_changed_invoice_last_updated": "2024-12-04"}
        seconds = 200.0 if args[0] == "sync" else 100.0
        return {"seconds": seconds, "records": 101_547, "counts": counts, "peak_rss_mb": 100.0}

    monkeypatch.setattr(bench, "XeroSandboxServer", sandbox)
    monkeypatch.setattr(bench, "_run_job", run_job)
    monkeypatch.setattr(bench.subprocess, "run", lambda *a, **k: recorded["log"].append("migrate"))
    return recorded


def test_each_measured_phase_counts_its_own_calls_with_the_limits_lifted(phases):
    result = bench.bench_xero("full", None)
    assert phases["log"] == [
        "migrate",
        "setup",
        "clear calls",
        "baseline",
        "clear calls",
        "sync lifted",  # the full sync
        "clear calls",
        "sync lifted",  # nothing changed
        "change",
        "clear calls",
        "sync lifted",  # 110 changed
    ]
    options = phases["sandbox"].options
    assert options["minute_limit"] == options["day_limit"] == bench.LIFTED and options["concurrent_limit"] == 5
    assert options["accounts"] == 1000 and options["invoices_per_account"] == 125
    assert result["database"] == "sqlite"
    # Only the Accounting API's listings are compared with the minimum; every API call is counted.
    assert result["calls"] == {
        "made": 103 + 9,
        "listing_calls": 103,
        "minimum": 103,
        "minimum_at_default_page_size": 1016,
        "ratio": 112 / 103,
    }
    real = result["real_tenant"]
    assert real["measured_calls_per_minute"] == 112 / 200 * 60
    assert real["full_sync_estimate_seconds"] == 200.0  # slower than the limits' floor (1 minute)
    assert real["full_sync_at_default_page_size"]["minutes_waiting_for_the_minute_limit"] == 16
    assert result["sync_vs_baseline"] == 0.5


def test_real_limits_keep_xeros_limits_in_the_sandbox_and_the_portal(phases, capsys):
    result = bench.bench_xero("small", None, real_limits=True)
    options = phases["sandbox"].options
    assert (options["minute_limit"], options["day_limit"], options["concurrent_limit"]) == (60, 5000, 5)
    assert [entry for entry in phases["log"] if entry.startswith("sync")] == ["sync real"] * 3
    bench.print_xero(result)
    printed = capsys.readouterr().out
    assert "Xero's limits in force" in printed and "1,016 at Xero's default 100" in printed


def test_the_cpu_time_of_a_process():
    import os

    spent = bench._cpu_seconds(os.getpid())
    sum(range(2_000_000))  # some work of this process
    assert spent is not None and bench._cpu_seconds(os.getpid()) > spent >= 0
    assert bench._cpu_seconds(None) is None
