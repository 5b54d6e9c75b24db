"""A large tenant starts fast and pages quickly (functional sanity, not a benchmark)."""

from __future__ import annotations

import requests

from bms_sandbox.testing import SandboxServer


def test_large_tenant_starts_and_serves_deep_pages_and_filters() -> None:
    # How fast it serves is the benchmark's to measure (make bench); this checks what it serves.
    with SandboxServer(
        accounts=1000,
        contacts_per_account=10,
        contracts_per_account=2,
        tickets_per_account=50,
        invoices_per_account=100,
    ) as server:
        s = requests.Session()
        r = s.post(
            server.url + "/v2/security/authenticate",
            data={
                "GrantType": "password",
                "UserName": server.username,
                "Password": server.password,
                "Tenant": server.tenant,
            },
            timeout=10,
        )
        s.headers["Authorization"] = "Bearer " + r.json()["result"]["accessToken"]
        first = s.get(server.url + "/v2/finance/invoices/summary", params={"PageSize": 100}, timeout=10)
        assert first.status_code == 200 and len(first.json()["result"]) == 100
        health = server.control.health()
        assert health["counts"]["invoices"] == 100_000 and health["counts"]["tickets"] == 50_000
        # a deep page, by account, and the incremental filter
        last = s.get(server.url + "/v2/finance/invoices/summary", params={"PageSize": 100, "PageNumber": 1000})
        assert [x["id"] for x in last.json()["result"]][-1] == 100_000
        by_acc = s.get(server.url + "/v2/finance/invoices/summary", params={"PageSize": 100, "Filter.AccountId": 999})
        assert len(by_acc.json()["result"]) == 100
        tickets = s.post(
            server.url + "/v2/servicedesk/tickets/search",
            json={"PageSize": 100, "Filter": {"LastActivityUpdateFrom": health["anchor"][:10]}},
        )
        assert tickets.status_code == 200


def test_indexes_built_up_front_answer_as_a_scan_would() -> None:
    from bms_sandbox.data import Options, Tenant

    tenant = Tenant(Options(accounts=20, invoices_per_account=30))
    spec = tenant.specs["invoices"]
    assert spec.indexed == {"statusId"}
    tenant.build_indexes()
    assert ("invoices", "statusId") in tenant._eq_indexes
    for status in {spec.fast["statusId"](i) for i in range(1, spec.n + 1)}:
        by_index = list(tenant.query("invoices", (("statusId", "eq", status),)))
        by_scan = [i for i in range(1, spec.n + 1) if tenant.get("invoices", i)["statusId"] == status]
        assert by_index == by_scan and by_index
