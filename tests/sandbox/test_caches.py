"""Hardening 17, the sandbox's part: its caches can be dropped between benchmark phases."""

from __future__ import annotations

from typing import Any

from .conftest import Api


def test_hardening_17_reset_caches_leaves_the_sandbox_as_cold_as_after_its_start(api: Api, bms_sandbox: Any) -> None:
    control = bms_sandbox.control
    control.reset_caches()
    for number in (1, 2, 3):
        api.get("/v2/finance/invoices/summary", PageSize=100, PageNumber=number)
    api.get("/v2/finance/invoices/summary", PageSize=100, **{"Filter.StatusId": 2})
    warm = control.cache_sizes()
    assert warm["hot_invoices"] >= 300 and warm["query_results"] >= 1 and warm["formatted_days"] > 0
    before = api.get("/v2/finance/invoices/summary", PageSize=100).json()

    cold = control.reset_caches()
    assert cold["hot_invoices"] == cold["hot_accounts"] == cold["query_results"] == cold["formatted_days"] == 0
    assert "invoices.statusId" in cold["indexes"]  # built, as a database has its indexes
    assert control.cache_sizes() == cold
    assert api.get("/v2/finance/invoices/summary", PageSize=100).json() == before  # data unchanged
