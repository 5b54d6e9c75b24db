"""Reading the BMS sandbox's records and request counts, shared by the sandbox tests."""

from __future__ import annotations

from datetime import UTC, datetime

from providers.kaseya_bms.client import BmsClient
from providers.kaseya_bms.types import TicketDraft

INVOICE_MODULE = 9  # sandbox convention (bms_sandbox.constants.INVOICE_MODULE_ID)
FAULTS = {
    "error_rate": 0.08,
    "rate_limit_rate": 0.08,
    "success_false_rate": 0.08,
    "drop_rate": 0.04,
    "retry_after": 1,
    "fault_seed": 11,
}


def ids(pages) -> list[int]:
    return [item.id for page in pages for item in page.items]


def record_ids(bms_sandbox, entity: str, keep=lambda r: True) -> list[int]:
    return [r["id"] for r in bms_sandbox.control.records(entity) if keep(r)]


def sandbox_counts(bms_sandbox) -> dict[str, int]:
    return bms_sandbox.control.request_counts()["by_endpoint"]


def make_draft(client: BmsClient, details: str) -> TicketDraft:
    account = client.list_accounts(page_size=1).items[0]
    return TicketDraft(
        title="Invoice question",
        details=details,
        account_id=account.id,
        location_id=client.list_account_locations(account.id)[0].id,
        status_id=client.list_statuses()[0].id,
        priority_id=client.list_priorities()[0].id,
        type_id=client.list_lookup("TicketType")[0].id,
        source_id=client.list_lookup("TicketSource")[0].id,
        open_date=datetime.now(UTC),
        queue_id=client.list_queues()[0].id,
    )
