"""The scripted HTTP server of ``tests/providers/kaseya_bms/client`` with Xero's conventions: the Accounting API
under ``/api.xro/2.0``, JSON answers carrying Xero's envelope and rate-limit headers, and every
exchange (request and the reply sent) kept for the contract check."""

from __future__ import annotations

from typing import Any

from tests.providers.kaseya_bms.client.stub import Reply, Seen, StubServer, json_reply

API = "/api.xro/2.0"
LIMIT_HEADERS = {"X-MinLimit-Remaining": "59", "X-DayLimit-Remaining": "4999", "X-AppMinLimit-Remaining": "9999"}

__all__ = ["API", "Reply", "Seen", "XeroStub", "xero_reply", "problem_reply"]


def xero_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """A JSON answer as Xero sends it: envelope fields on accounting objects, limit headers."""
    if isinstance(payload, dict) and status == 200 and "Id" not in payload:
        payload = {
            "Id": "9f310473-e1b5-4704-a25c-eec653deb596",
            "Status": "OK",
            "ProviderName": "Connectbooster Portal",
            "DateTimeUTC": "/Date(1717000000000)/",
            **payload,
        }
    return json_reply(payload, status, {**LIMIT_HEADERS, **(headers or {})})


def problem_reply(status: int, detail: str) -> Reply:
    """Xero's problem-details answer to 401/403: ``{"Title", "Status", "Detail", ...}``."""
    title = {401: "Unauthorized", 403: "Forbidden"}.get(status, "Error")
    body = {"Type": None, "Title": title, "Status": status, "Detail": detail, "Instance": "e1c7", "Extensions": {}}
    return json_reply(body, status, dict(LIMIT_HEADERS))


class XeroStub(StubServer):
    def __init__(self) -> None:
        super().__init__()
        self.routes.clear()  # no BMS sign-in routes here
        #: (request, reply) pairs in arrival order.
        self.exchanges: list[tuple[Seen, Reply]] = []
        #: Set False in a test that sends deliberately unrealistic answers (HTML, garbage, ...).
        self.replies_are_realistic = True
        self.api_url = self.url + API

    def api(self, method: str, path: str, *replies: Any) -> None:
        self.on(method, API + path, *replies)

    def api_calls(self, path: str) -> list[Seen]:
        return self.calls(API + path)

    def _reply(self, seen: Seen) -> Reply:
        reply = super()._reply(seen)
        self.exchanges.append((seen, reply))
        return reply
