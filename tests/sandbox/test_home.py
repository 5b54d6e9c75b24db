"""Issue 14 item 16: the sandbox's front page says what it is and lists the tickets created
in it (by the portal through the API), with title, account and time; it is not an API
request (not logged, no faults)."""

from __future__ import annotations

import requests

from bms_sandbox import constants as C


def _ticket(api, account_id: int, title: str) -> dict:
    account = api.get(f"/v2/crm/accounts/summary/{account_id}").json()
    body = {
        "Title": title,
        "Details": "From the portal",
        "AccountId": account_id,
        "LocationId": account["locations"][0]["id"],
        "StatusId": 1,
        "PriorityId": 2,
        "TypeId": 1,
        "SourceId": 1,
        "OpenDate": "2026-01-05T10:00:00",
    }
    response = api.post("/v2/servicedesk/tickets", body)
    assert response.status_code == 200, response.text
    return response.json()["result"] | {"accountName": account["accountName"]}


def test_the_front_page_says_what_the_sandbox_is(bms_sandbox):
    response = requests.get(f"{bms_sandbox.url}/", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Kaseya BMS sandbox" in response.text
    assert bms_sandbox.tenant in response.text and bms_sandbox.username in response.text
    assert bms_sandbox.password not in response.text
    assert "Tickets created (0)" in response.text and 'data-testid="no-tickets"' in response.text


def test_it_lists_the_tickets_created_through_the_api_newest_first(bms_sandbox, api):
    first = _ticket(api, 3, "[Test] Invoice Past Due")
    second = _ticket(api, 5, "Payment failed <script>alert(1)</script>")
    before = bms_sandbox.control.request_counts()["total"]
    bms_sandbox.control.set_faults(error_rate=1.0)  # the page is not the API: no faults apply
    try:
        html = requests.get(f"{bms_sandbox.url}/", timeout=10).text
    finally:
        bms_sandbox.control.clear_faults()
    assert bms_sandbox.control.request_counts()["total"] == before  # not counted as an API call
    assert "Tickets created (2)" in html
    table = html[html.index('data-testid="created-tickets"') :]
    assert table.index(second["ticketNumber"]) < table.index(first["ticketNumber"])
    assert "[Test] Invoice Past Due" in table and first["accountName"] in table
    assert "Payment failed &lt;script&gt;alert(1)&lt;/script&gt;" in table and "<script>" not in html
    assert "UTC" in table
    status_new = next(status["name"] for status in C.STATUSES if status["id"] == 1)
    assert f"<td>{status_new}</td>" in table


def test_generated_tickets_are_not_listed(bms_sandbox):
    html = requests.get(f"{bms_sandbox.url}/", timeout=10).text
    assert bms_sandbox.control.health()["counts"]["tickets"] > 0
    assert "Tickets created (0)" in html
