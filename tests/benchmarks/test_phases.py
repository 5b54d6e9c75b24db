"""Hardening 17: `make bench` measures every phase on an equally cold sandbox.

The benchmark itself needs PostgreSQL and minutes (the lead runs it); this checks its
orchestration with the jobs replaced by recorders: the sandbox's caches are dropped before
each measured phase (the warm one excepted, and labelled), and the baseline is measured in
both orders around the full sync."""

from __future__ import annotations

import pytest

import benchmarks.__main__ as bench


class RecordingControl:
    def __init__(self, log: list[str]):
        self.log = log

    def reset_caches(self) -> dict:
        self.log.append("reset caches")
        return {}


class RecordingSandbox:
    def __init__(self, log: list[str], **options):
        self.control = RecordingControl(log)
        self.url, self.tenant, self.username, self.password = "http://sandbox", "Demo MSP", "api", "secret"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def phases(monkeypatch) -> list[str]:
    log: list[str] = []
    figures = {"seconds": 2.0, "records": 1000, "requests": {"GET /v2/crm/accounts/summary": 1}, "peak_rss_mb": 1.0}

    def run_json(args: list[str], env: dict) -> dict:
        log.append(args[2])  # "baseline" or "sync"
        return dict(figures)

    monkeypatch.setattr(bench, "SandboxServer", lambda **options: RecordingSandbox(log, **options))
    monkeypatch.setattr(bench, "_run_json", run_json)
    monkeypatch.setattr(bench, "_reset_database", lambda url: log.append("new database"))
    monkeypatch.setattr(bench.subprocess, "run", lambda *a, **k: None)
    monkeypatch.setattr(bench, "_configure", lambda env, sandbox: log.append("configure"))
    monkeypatch.setattr(bench, "_mutate_one_percent", lambda sandbox, spec: log.append("change 1%") or 10)
    return log


def test_hardening_17_every_measured_phase_starts_on_a_cold_sandbox_and_the_baseline_runs_in_both_orders(phases):
    result = bench.bench_size("10k", bench.SIZES["10k"], "postgres://bench/db", incremental=True)
    assert phases == [
        "new database",
        "reset caches",
        "baseline",  # before the sync
        "configure",
        "reset caches",
        "sync",  # the full sync
        "reset caches",
        "baseline",  # after the sync
        "reset caches",
        "sync",  # incremental, no change
        "sync",  # again, warm on purpose (labelled so)
        "change 1%",
        "reset caches",
        "sync",  # incremental, 1% changed
    ]
    assert result["sync_vs_baseline"] == result["sync_vs_baseline_after"] == 1.0
    assert {"baseline", "baseline_after_sync", "full_sync"} <= set(result)


def test_hardening_17_both_orders_are_printed(phases, capsys):
    result = bench.bench_size("10k", bench.SIZES["10k"], "postgres://bench/db", incremental=False)
    bench._print([result])
    printed = capsys.readouterr().out
    assert "download only, before the sync" in printed and "download only, after the sync" in printed
    assert printed.count("sync/baseline 1.00") == 2
