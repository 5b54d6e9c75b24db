"""Kaseya BMS REST API v2 client: one method per endpoint, typed results from :mod:`.types`.

Invariants:

- Plain Python (no Django), built from a server URL and credentials. Not thread-safe: one client
  per thread (:meth:`BmsClient.sibling` for another one, sharing the token and the pacer).
- Every endpoint but the two token ones (in :mod:`.transport`, which signs in) is a constant here
  (method + OpenAPI path template, also its pacing and counting key) and has one method; a method
  only builds the query or body and parses the result.
  Sending, sign-in, retries and error mapping are :mod:`.transport`'s, answers are read by
  :mod:`.envelope`; every failure is a :class:`BmsError` subclass.
- Reads are retried by the transport; ``create_ticket`` is sent ``idempotent=False`` and never
  retried blindly.
- Listings are paged (at most ``MAX_PAGE_SIZE`` a page) and walked by :meth:`BmsClient.iter_pages`
  until :func:`is_last_page`.

``BmsClient`` extends :class:`~.transport.BmsTransport` rather than holding one, as Sentry's vendor
clients extend its ``BaseApiClient``: an endpoint method calls ``self._call`` with no delegation
hop on the sync's hot path, and the transport's surface (``authenticate``, ``refresh``,
``sibling``, ``close``, ``request_counts``, ``server_url``...) stays on the client as it always was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from .envelope import Envelope
from .exceptions import BmsNotABmsServer, BmsNotFound, BmsOversizedPage
from .transport import BmsTransport, Endpoint, read_capped
from .types import (
    Account,
    Attachment,
    Contact,
    Contract,
    ContractRef,
    Invoice,
    InvoiceLineItem,
    LocationRef,
    LookupItem,
    Page,
    Ticket,
    TicketDraft,
    UserInfo,
    format_datetime,
)

T = TypeVar("T")

#: Largest page BMS serves ("bundles up to 100 objects per request").
MAX_PAGE_SIZE = 100
DEFAULT_DOWNLOAD_LIMIT = 25 * 1024 * 1024

USER_INFO = Endpoint("GET", "/v2/security/userinfo")
ACCOUNTS = Endpoint("GET", "/v2/crm/accounts/summary")
ACCOUNT = Endpoint("GET", "/v2/crm/accounts/summary/{id}")
ACCOUNT_LOCATIONS = Endpoint("GET", "/v2/crm/accounts/{accountId}/locations/lookup")
CONTACTS = Endpoint("GET", "/v2/crm/contacts/summary")
CONTACT = Endpoint("GET", "/v2/crm/contacts/summary/{id}")
CONTRACTS = Endpoint("GET", "/v2/finance/contracts/summary")
CONTRACT_LOOKUP = Endpoint("GET", "/v2/finance/contracts/lookup")
INVOICES = Endpoint("GET", "/v2/finance/invoices/summary")
INVOICE = Endpoint("GET", "/v2/finance/invoices/{id}")
INVOICE_DETAILS = Endpoint("POST", "/v2/finance/invoices/details")
TICKET_SEARCH = Endpoint("POST", "/v2/servicedesk/tickets/search")
TICKET = Endpoint("GET", "/v2/servicedesk/tickets/{ticketId}")
TICKET_CREATE = Endpoint("POST", "/v2/servicedesk/tickets")
QUEUES = Endpoint("GET", "/v2/system/queues/lookup")
PRIORITIES = Endpoint("GET", "/v2/system/priorities/lookup")
STATUSES = Endpoint("GET", "/v2/system/statuses/lookup")
ISSUE_TYPES = Endpoint("GET", "/v2/system/issuetypes/lookup")
SUB_ISSUE_TYPES = Endpoint("GET", "/v2/system/issuetypes/{issueTypeId}/issuesubtypes/lookup")
LOOKUP = Endpoint("GET", "/v2/system/lookup/{tableName}")
ATTACHMENTS = Endpoint("GET", "/v2/system/attachments/{moduleId}/{objectId}")
ATTACHMENT_DOWNLOAD = Endpoint("GET", "/v2/system/attachments/{moduleId}/{objectId}/{attachmentId}/download")


def is_last_page(page: Page, served: int = 0) -> bool:
    """Whether a listing ends with this page: it is empty, it reaches the total (when BMS
    gives one), or else it is short.

    With a total, a short page does not end the walk: a server that silently serves smaller
    pages than asked still numbers pages by its own size (``served``, the largest page seen),
    so the walk goes on until the total."""
    if not page.items:
        return True
    if page.total_records is not None:
        served = max(served, len(page.items))
        return (page.page - 1) * served + len(page.items) >= page.total_records
    return len(page.items) < page.page_size


class BmsClient(BmsTransport):
    """``BmsClient(server_url, company, username, password, **options)``; the options are the
    transport's (timeout, session, pacer, retry and clock settings)."""

    # --- security --------------------------------------------------------------------------------

    def user_info(self) -> UserInfo:
        return self._get_one(USER_INFO, UserInfo.from_api)

    # --- CRM -------------------------------------------------------------------------------------

    def list_accounts(
        self,
        page: int = 1,
        page_size: int = MAX_PAGE_SIZE,
        *,
        modified_from: datetime | None = None,
        modified_to: datetime | None = None,
        created_from: datetime | None = None,
        is_active: bool | None = None,
        name: str | None = None,
    ) -> Page[Account]:
        filters = {
            "ModifiedOnFrom": modified_from,
            "ModifiedOnTo": modified_to,
            "CreatedOnFrom": created_from,
            "IsActive": is_active,
            "AccountName": name,
        }
        return self._get_page(ACCOUNTS, Account.from_api, page, page_size, filters)

    def iter_account_pages(
        self, *, start_page: int = 1, page_size: int = MAX_PAGE_SIZE, **filters: Any
    ) -> Iterator[Page[Account]]:
        return self.iter_pages(lambda p: self.list_accounts(p, page_size, **filters), start_page)

    def get_account(self, account_id: int) -> Account:
        return self._get_one(ACCOUNT, Account.from_api, account_id)

    def list_account_locations(self, account_id: int) -> list[LocationRef]:
        return self._get_list(ACCOUNT_LOCATIONS, LocationRef.from_api, account_id)

    def list_contacts(
        self,
        page: int = 1,
        page_size: int = MAX_PAGE_SIZE,
        *,
        account_id: int | None = None,
        modified_from: datetime | None = None,
        modified_to: datetime | None = None,
        email: str | None = None,
        is_active: bool | None = None,
    ) -> Page[Contact]:
        filters = {
            "AccountId": account_id,
            "ModifiedOnFrom": modified_from,
            "ModifiedOnTo": modified_to,
            "Email": email,
            "IsActive": is_active,
        }
        return self._get_page(CONTACTS, Contact.from_api, page, page_size, filters)

    def iter_contact_pages(
        self, *, start_page: int = 1, page_size: int = MAX_PAGE_SIZE, **filters: Any
    ) -> Iterator[Page[Contact]]:
        return self.iter_pages(lambda p: self.list_contacts(p, page_size, **filters), start_page)

    def get_contact(self, contact_id: int) -> Contact:
        return self._get_one(CONTACT, Contact.from_api, contact_id)

    # --- finance ---------------------------------------------------------------------------------

    def list_contracts(
        self,
        page: int = 1,
        page_size: int = MAX_PAGE_SIZE,
        *,
        contract_type: str | None = None,
        contract_name: str | None = None,
        billing_cycle: str | None = None,
        account_name: str | None = None,
        status: str | None = None,
    ) -> Page[Contract]:
        filters = {
            "ContractType": contract_type,
            "ContractName": contract_name,
            "BillingCycle": billing_cycle,
            "AccountName": account_name,
            "Status": status,
        }
        return self._get_page(CONTRACTS, Contract.from_api, page, page_size, filters)

    def iter_contract_pages(
        self, *, start_page: int = 1, page_size: int = MAX_PAGE_SIZE, **filters: Any
    ) -> Iterator[Page[Contract]]:
        return self.iter_pages(lambda p: self.list_contracts(p, page_size, **filters), start_page)

    def contract_lookup(self, account_id: int, *, exclude_expired: bool = False) -> list[ContractRef]:
        params = {"AccountId": account_id, "ExcludeExpiredContracts": _query_value(exclude_expired)}
        return self._get_list(CONTRACT_LOOKUP, ContractRef.from_api, params=params)

    def list_invoices(
        self,
        page: int = 1,
        page_size: int = MAX_PAGE_SIZE,
        *,
        account_id: int | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        status_id: int | None = None,
        invoice_number: str | None = None,
        invoice_id: int | None = None,
    ) -> Page[Invoice]:
        """One page of invoices. BMS gives no total here (ListResponse): page until a short page."""
        filters = {
            "AccountId": account_id,
            "CreatedFrom": created_from,
            "CreatedTo": created_to,
            "StatusId": status_id,
            "InvoiceNumber": invoice_number,
            "Id": invoice_id,
        }
        return self._get_page(INVOICES, Invoice.from_api, page, page_size, filters)

    def iter_invoice_pages(
        self, *, start_page: int = 1, page_size: int = MAX_PAGE_SIZE, **filters: Any
    ) -> Iterator[Page[Invoice]]:
        return self.iter_pages(lambda p: self.list_invoices(p, page_size, **filters), start_page)

    def get_invoice(self, invoice_id: int) -> Invoice:
        """One invoice with its line items."""
        return self._get_one(INVOICE, Invoice.from_api, invoice_id)

    def list_invoice_line_items(
        self, invoice_ids: Sequence[int], page: int = 1, page_size: int = MAX_PAGE_SIZE
    ) -> Page[InvoiceLineItem]:
        """Line items of many invoices at once (``POST /finance/invoices/details``; reads only)."""
        if not invoice_ids:
            return Page(items=(), page=page, page_size=page_size, total_records=0)
        body = _page_body(page, page_size, {"ListInvoiceIds": ",".join(str(int(i)) for i in invoice_ids)})
        env = self._call(INVOICE_DETAILS, json_body=body)
        return self._page(env, InvoiceLineItem.from_api, page, page_size, INVOICE_DETAILS)

    def iter_invoice_line_item_pages(
        self, invoice_ids: Sequence[int], *, start_page: int = 1, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[Page[InvoiceLineItem]]:
        ids = list(invoice_ids)
        return self.iter_pages(lambda p: self.list_invoice_line_items(ids, p, page_size), start_page)

    # --- service desk ----------------------------------------------------------------------------

    def search_tickets(
        self,
        page: int = 1,
        page_size: int = MAX_PAGE_SIZE,
        *,
        last_activity_from: datetime | None = None,
        last_activity_to: datetime | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        account_ids: Sequence[int] | None = None,
        details: str | None = None,
        title: str | None = None,
        ticket_number: str | None = None,
        contact_id: int | None = None,
        exclude_completed: bool | None = None,
    ) -> Page[Ticket]:
        """``POST /servicedesk/tickets/search`` (a read, so it is retried like a GET)."""
        filters: dict[str, Any] = {
            "LastActivityUpdateFrom": last_activity_from,
            "LastActivityUpdateTo": last_activity_to,
            "CreatedOnFrom": created_from,
            "CreatedOnTo": created_to,
            "AccountIds": ",".join(str(int(i)) for i in account_ids) if account_ids else None,
            "Details": details,
            "Title": title,
            "TicketNumber": ticket_number,
            "ContactId": contact_id,
            "ExcludeCompleted": None if exclude_completed is None else int(exclude_completed),
        }
        env = self._call(TICKET_SEARCH, json_body=_page_body(page, page_size, filters))
        return self._page(env, Ticket.from_api, page, page_size, TICKET_SEARCH)

    def iter_ticket_pages(
        self, *, start_page: int = 1, page_size: int = MAX_PAGE_SIZE, **filters: Any
    ) -> Iterator[Page[Ticket]]:
        return self.iter_pages(lambda p: self.search_tickets(p, page_size, **filters), start_page)

    def get_ticket(self, ticket_id: int) -> Ticket:
        return self._get_one(TICKET, Ticket.from_api, ticket_id)

    def create_ticket(self, draft: TicketDraft) -> Ticket:
        """Create a ticket. Never retried: on a transient error the ticket may or may not exist,
        so the caller must search for it (e.g. by a key in ``details``) before posting again."""
        env = self._call(TICKET_CREATE, json_body=draft.to_api(), idempotent=False)
        return self._parse_one(env.result, Ticket.from_api, TICKET_CREATE)

    # --- lookups ---------------------------------------------------------------------------------

    def list_queues(self) -> list[LookupItem]:
        return self._get_list(QUEUES, LookupItem.from_api)

    def list_priorities(self) -> list[LookupItem]:
        return self._get_list(PRIORITIES, LookupItem.from_api)

    def list_statuses(self) -> list[LookupItem]:
        return self._get_list(STATUSES, LookupItem.from_api)

    def list_issue_types(self) -> list[LookupItem]:
        return self._get_list(ISSUE_TYPES, LookupItem.from_api)

    def list_sub_issue_types(self, issue_type_id: int) -> list[LookupItem]:
        return self._get_list(SUB_ISSUE_TYPES, LookupItem.from_api, issue_type_id)

    def list_lookup(self, table_name: str) -> list[LookupItem]:
        """Generic ``/system/lookup/{tableName}`` (table names are undocumented, e.g. ``ContactType``)."""
        return self._get_list(LOOKUP, LookupItem.from_api, table_name)

    # --- attachments -----------------------------------------------------------------------------

    def list_attachments(self, module_id: int, object_id: int) -> list[Attachment]:
        items: list[Attachment] = []
        for page in self.iter_pages(lambda p: self._attachment_page(module_id, object_id, p), 1):
            items.extend(page.items)
        return items

    def download_attachment(
        self, module_id: int, object_id: int, attachment_id: int, *, max_bytes: int = DEFAULT_DOWNLOAD_LIMIT
    ) -> bytes:
        """File content, streamed; raises :class:`BmsResponseTooLarge` beyond ``max_bytes``."""
        return self._call(
            ATTACHMENT_DOWNLOAD,
            (module_id, object_id, attachment_id),
            stream=True,
            read=lambda resp: read_capped(resp, max_bytes),
        )

    def _attachment_page(self, module_id: int, object_id: int, page: int) -> Page[Attachment]:
        return self._get_page(ATTACHMENTS, Attachment.from_api, page, MAX_PAGE_SIZE, {}, ids=(module_id, object_id))

    # --- endpoint helpers ------------------------------------------------------------------------

    def _get_page(
        self,
        ep: Endpoint,
        parse: Callable[[Mapping[str, Any]], T],
        page: int,
        page_size: int,
        filters: Mapping[str, Any],
        ids: tuple[object, ...] = (),
    ) -> Page[T]:
        _check_paging(page, page_size)
        params = {"PageSize": page_size, "PageNumber": page}
        params.update({f"Filter.{k}": _query_value(v) for k, v in filters.items() if v is not None})
        return self._page(self._call(ep, ids, params=params), parse, page, page_size, ep)

    def _get_list(
        self,
        ep: Endpoint,
        parse: Callable[[Mapping[str, Any]], T],
        *ids: object,
        params: Mapping[str, Any] | None = None,
    ) -> list[T]:
        env = self._call(ep, ids, params=params)
        return self._parse_list(env.result, parse, ep)

    def _get_one(self, ep: Endpoint, parse: Callable[[Mapping[str, Any]], T], *ids: object) -> T:
        return self._parse_one(self._call(ep, ids).result, parse, ep)

    def _page(
        self, env: Envelope, parse: Callable[[Mapping[str, Any]], T], page: int, page_size: int, ep: Endpoint
    ) -> Page[T]:
        if isinstance(env.result, list) and len(env.result) > page_size:
            raise BmsOversizedPage(
                f"BMS answered {ep.template} with {len(env.result)} records for a page of {page_size}; "
                "the answer was refused."
            )
        items = self._parse_list(env.result, parse, ep)
        return Page(items=tuple(items), page=page, page_size=page_size, total_records=env.total_records)

    @staticmethod
    def _parse_list(result: Any, parse: Callable[[Mapping[str, Any]], T], ep: Endpoint) -> list[T]:
        if result is None:
            return []
        if not isinstance(result, list) or not all(isinstance(i, Mapping) for i in result):
            raise BmsNotABmsServer(f"Unexpected answer shape from {ep.template}: expected a list of records.")
        try:
            return [parse(item) for item in result]
        except (ValueError, TypeError) as exc:
            raise BmsNotABmsServer(f"Unexpected record shape from {ep.template}.") from exc

    @staticmethod
    def _parse_one(result: Any, parse: Callable[[Mapping[str, Any]], T], ep: Endpoint) -> T:
        if result is None:
            raise BmsNotFound("BMS returned no record.", status_code=200)
        if not isinstance(result, Mapping):
            raise BmsNotABmsServer(f"Unexpected answer shape from {ep.template}: expected a record.")
        try:
            return parse(result)
        except (ValueError, TypeError) as exc:
            raise BmsNotABmsServer(f"Unexpected record shape from {ep.template}.") from exc

    @staticmethod
    def iter_pages(fetch: Callable[[int], Page[T]], start_page: int = 1) -> Iterator[Page[T]]:
        """Yield ``fetch(n)`` for n = start_page, ... until the listing ends (`is_last_page`)."""
        page_number = start_page
        served = 0  # the page size the server actually uses, as far as we have seen
        while True:
            page = fetch(page_number)
            yield page
            served = max(served, len(page.items))
            if is_last_page(page, served):
                return
            page_number += 1


# --- module helpers ------------------------------------------------------------------------------


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    return value


def _page_body(page: int, page_size: int, filters: Mapping[str, Any]) -> dict[str, Any]:
    _check_paging(page, page_size)
    return {
        "PageSize": page_size,
        "PageNumber": page,
        "Filter": {k: _query_value(v) for k, v in filters.items() if v is not None},
    }


def _check_paging(page: int, page_size: int) -> None:
    if page < 1:
        raise ValueError("page numbers start at 1")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
