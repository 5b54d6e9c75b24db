"""Kaseya BMS REST API v2 client.

Plain Python (no Django): built from a server URL and credentials. One method per
endpoint, typed results from :mod:`.types`, and one request path (``_call``) that
handles auth, pacing, retries and maps every failure to a :class:`BmsError` subclass.

Not thread-safe: use one client per sync/task.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests

from .exceptions import (
    AuthFailureReason,
    BmsAuthenticationError,
    BmsError,
    BmsNotABmsServer,
    BmsNotFound,
    BmsPermissionDenied,
    BmsRateLimited,
    BmsRequestRejected,
    BmsResponseTooLarge,
    BmsTimeout,
    BmsTlsError,
    BmsUnavailable,
)
from .pacing import RequestPacer
from .types import (
    Account,
    Attachment,
    Contact,
    Contract,
    ContractRef,
    Fields,
    Invoice,
    InvoiceLineItem,
    LocationRef,
    LookupItem,
    Page,
    Ticket,
    TicketDraft,
    UserInfo,
    format_datetime,
    parse_datetime,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Largest page BMS serves ("bundles up to 100 objects per request").
MAX_PAGE_SIZE = 100
#: ``Success=false`` on HTTP 200 may be transient on BMS; reads try this many times in total.
SUCCESS_FALSE_MAX_ATTEMPTS = 3
#: Renew the access token this long before it expires (at most 20 % of its lifetime).
REFRESH_MARGIN_SECONDS = 60.0
DEFAULT_DOWNLOAD_LIMIT = 25 * 1024 * 1024
USER_AGENT = "connectbooster-portal-bms-client/1.0"


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str

    @property
    def key(self) -> str:
        """Pacing/counting key: method + the OpenAPI path template, e.g. ``GET /v2/crm/accounts/summary/{id}``.

        The document's own placeholder names are kept (``{ticketId}``), as BMS budgets per endpoint.
        """
        return f"{self.method} {self.template}"

    def path(self, *values: object) -> str:
        parts = iter(values)
        return re.sub(r"\{[^}]+\}", lambda _m: quote(str(next(parts)), safe=""), self.template)


AUTHENTICATE = Endpoint("POST", "/v2/security/authenticate")
REFRESH_TOKEN = Endpoint("POST", "/v2/security/refreshtoken")
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


@dataclass(frozen=True)
class _Envelope:
    result: Any
    total_records: int | None


@dataclass(frozen=True)  # shared by sibling clients: replaced, never changed
class _Token:
    access: str = dataclass_field(repr=False)
    refresh: str | None = dataclass_field(repr=False)
    refresh_due_at: float | None  # our clock; None = unknown, rely on 401
    refresh_expires_at: float | None


class _TokenRejected(Exception):
    """HTTP 401 on an authenticated call: renew the token and replay once."""


class _NoRetry(Exception):
    """Wraps an error the retry loop must pass through untouched."""

    def __init__(self, error: BmsError) -> None:
        super().__init__(str(error))
        self.error = error


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


class BmsClient:
    def __init__(
        self,
        server_url: str,
        company: str,
        username: str,
        password: str,
        *,
        timeout: float | tuple[float, float] = (5, 30),
        session: requests.Session | None = None,
        pacer: RequestPacer | None = None,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(server_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("server_url must be an absolute http(s) URL")
        self.server_url = server_url.strip().rstrip("/")
        self.company = company
        self.username = username
        self._password = password
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._pacer = pacer
        self._sleep = sleep
        self._clock = clock
        self._random = random.Random()
        self._session = session or requests.Session()
        self._session.headers.setdefault("User-Agent", USER_AGENT)
        self._session.headers["Accept"] = "application/json"
        self._token: _Token | None = None
        #: endpoint key → number of HTTP requests actually sent (retries and auth included).
        self.request_counts: dict[str, int] = {}

    def __repr__(self) -> str:
        # Never show the password or tokens.
        return f"BmsClient(server_url={self.server_url!r}, company={self.company!r}, username={self.username!r})"

    def sibling(self) -> BmsClient:
        """A client for another thread (a client is not shared between threads): the same
        server, credentials, timeouts, retry options and pacer, its own default HTTP session,
        and this client's token, so it starts without signing in again."""
        twin = BmsClient(
            self.server_url,
            self.company,
            self.username,
            self._password,
            timeout=self.timeout,
            pacer=self._pacer,
            max_attempts=self.max_attempts,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            sleep=self._sleep,
            clock=self._clock,
        )
        twin._token = self._token
        return twin

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> BmsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- security --------------------------------------------------------------------------------

    def authenticate(self) -> None:
        """Log in with company/username/password (done lazily by every other method)."""
        form = {"GrantType": "password", "UserName": self.username, "Password": self._password, "Tenant": self.company}
        self._token = self._token_request(AUTHENTICATE, form)

    def refresh(self) -> None:
        """Exchange the refresh token for a new access token."""
        if self._token is None or not self._token.refresh:
            raise BmsAuthenticationError(
                "No refresh token yet; authenticate first.", reason=AuthFailureReason.TOKEN_REJECTED
            )
        form = {"AccessToken": self._token.access, "RefreshToken": self._token.refresh}
        self._token = self._token_request(REFRESH_TOKEN, form)

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
            read=lambda resp: _read_capped(resp, max_bytes),
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
        self, env: _Envelope, parse: Callable[[Mapping[str, Any]], T], page: int, page_size: int, ep: Endpoint
    ) -> Page[T]:
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

    # --- request machinery -----------------------------------------------------------------------

    def _call(
        self,
        ep: Endpoint,
        ids: tuple[object, ...] = (),
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
        stream: bool = False,
        read: Callable[[requests.Response], Any] | None = None,
    ) -> Any:
        """Send an authenticated request with retries; return ``read(response)`` (default: envelope)."""
        reader = read or self._read_envelope
        url = self.server_url + ep.path(*ids)
        attempt = 0
        success_false = 0
        replayed = False
        while True:
            attempt += 1
            try:
                headers = {"Authorization": f"Bearer {self._current_token()}"}
                response = self._send(ep, url, params=params, json_body=json_body, headers=headers, stream=stream)
                try:
                    self._raise_for_status(response, ep)
                    return reader(response)
                finally:
                    response.close()
            except _NoRetry as wrapped:
                raise wrapped.error from None
            except _TokenRejected:
                if replayed:
                    raise BmsAuthenticationError(
                        "BMS rejected a freshly issued access token.",
                        reason=AuthFailureReason.TOKEN_REJECTED,
                        status_code=401,
                    ) from None
                # 401 means the call was not processed, so replaying even a create is safe.
                replayed = True
                attempt -= 1
                self._renew_token()  # raised errors skip the sibling handlers: no retry loop
            except BmsError as exc:
                if _is_success_false(exc):
                    success_false += 1
                delay = self._retry_delay(exc, attempt, idempotent, success_false)
                if delay is None:
                    raise
                logger.info(
                    "BMS %s failed (%s); retry %d/%d in %.2f s",
                    ep.key,
                    type(exc).__name__,
                    attempt,
                    self.max_attempts - 1,
                    delay,
                )
                self._sleep(delay)

    def _retry_delay(self, exc: BmsError, attempt: int, idempotent: bool, success_false: int) -> float | None:
        if not idempotent or attempt >= self.max_attempts:
            return None
        if _is_success_false(exc):
            return self._backoff(attempt) if success_false < SUCCESS_FALSE_MAX_ATTEMPTS else None
        if not exc.transient:
            return None
        if isinstance(exc, BmsRateLimited):
            # A long Retry-After would park the worker; let the caller reschedule instead.
            if exc.retry_after > self.backoff_cap:
                return None
            return max(exc.retry_after, self._backoff(attempt))
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        # Capped exponential backoff with full jitter.
        return self._random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))

    def _send(
        self,
        ep: Endpoint,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        if self._pacer is not None:
            try:
                self._pacer.acquire(ep.key)
            except BmsRateLimited as exc:
                raise _NoRetry(exc) from None  # the budget is spent: retrying now cannot help
        self.request_counts[ep.key] = self.request_counts.get(ep.key, 0) + 1
        host = urlsplit(url).netloc
        started = time.monotonic()
        try:
            response = self._session.request(
                ep.method,
                url,
                params=params,
                json=json_body,
                data=form,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=stream,
            )
        except requests.exceptions.SSLError as exc:
            raise BmsTlsError(f"Secure connection to {host} failed: {_short_reason(exc)}") from exc
        except requests.exceptions.Timeout as exc:
            raise BmsTimeout(f"BMS at {host} did not answer in time ({_short_reason(exc)}).") from exc
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as exc:
            raise BmsNotABmsServer(f"The server URL is invalid: {_short_reason(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            # Connection refused/reset/dropped, incomplete chunked body...
            raise BmsUnavailable(f"Could not reach BMS at {host}: {_short_reason(exc)}") from exc
        logger.debug("BMS %s -> %s in %.0f ms", ep.key, response.status_code, (time.monotonic() - started) * 1000)
        return response

    def _raise_for_status(self, response: requests.Response, ep: Endpoint) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            target = urlsplit(response.headers.get("Location", "")).netloc or "another address"
            raise BmsNotABmsServer(
                f"The server answered {ep.template} with a redirect (HTTP {status}) to {target}; "
                "the server URL must be the BMS API host, e.g. https://api.bms.kaseya.com.",
                status_code=status,
            )
        if status == 401:
            raise _TokenRejected()
        if status == 429:
            raise BmsRateLimited(
                f"BMS rate limit reached on {ep.key}.", retry_after=_retry_after(response, self._clock), status_code=429
            )
        if status == 408:
            raise BmsTimeout(f"BMS timed out handling {ep.key} (HTTP 408).", status_code=408)
        if status >= 500:
            raise BmsUnavailable(f"BMS is unavailable (HTTP {status} on {ep.key}).", status_code=status)
        raise _error_from_info(_ErrorInfo.from_payload(_try_json(response)), status)

    @staticmethod
    def _read_envelope(response: requests.Response) -> _Envelope:
        payload = _try_json(response)
        if payload is None:
            raise BmsNotABmsServer(
                "The server did not answer with JSON; check that the server URL is the BMS API host.",
                status_code=response.status_code,
            )
        return _unwrap(payload, response.status_code)

    # --- tokens ----------------------------------------------------------------------------------

    def _current_token(self) -> str:
        try:
            if self._token is None:
                self.authenticate()
            elif self._token.refresh_due_at is not None and self._clock() >= self._token.refresh_due_at:
                self._renew_token()
        except BmsError as exc:
            raise _NoRetry(exc) from None  # token calls already retried on their own
        assert self._token is not None
        return self._token.access

    def _renew_token(self) -> None:
        """Refresh if possible; fall back to a fresh login when the refresh is refused."""
        token = self._token
        refresh_usable = (
            token is not None
            and token.refresh
            and (token.refresh_expires_at is None or self._clock() < token.refresh_expires_at)
        )
        if refresh_usable:
            try:
                self.refresh()
                return
            except BmsError as exc:
                if exc.transient:
                    raise
                logger.info("BMS token refresh refused (%s); logging in again", type(exc).__name__)
        self.authenticate()

    def _token_request(self, ep: Endpoint, form: Mapping[str, str]) -> _Token:
        """POST a token form. Retried on transient errors: it creates nothing."""
        url = self.server_url + ep.template
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._read_token(self._send(ep, url, form=form), ep)
            except _NoRetry as wrapped:
                raise wrapped.error from None
            except BmsError as exc:
                if not exc.transient or attempt >= self.max_attempts:
                    raise
                retry_after = exc.retry_after if isinstance(exc, BmsRateLimited) else 0.0
                if retry_after > self.backoff_cap:
                    raise
                self._sleep(max(retry_after, self._backoff(attempt)))

    def _read_token(self, response: requests.Response, ep: Endpoint) -> _Token:
        with response:
            status = response.status_code
            if status == 404:
                raise BmsNotABmsServer(
                    f"{ep.template} does not exist on this server (HTTP 404); "
                    "check that the server URL is the BMS API host.",
                    status_code=404,
                )
            if status in (400, 401, 403):
                raise _auth_error(_ErrorInfo.from_payload(_try_json(response)), status)
            self._raise_for_status(response, ep)
            try:
                envelope = self._read_envelope(response)
            except (BmsRequestRejected, BmsPermissionDenied, BmsNotFound) as exc:  # Success=false on login
                raise _auth_error(_ErrorInfo(exc.message, exc.code, ()), status) from None
        fields = Fields(envelope.result if isinstance(envelope.result, Mapping) else None)
        access = fields.text("AccessToken")
        if not access:
            raise BmsNotABmsServer(f"Unexpected answer from {ep.template}: no access token.")
        now = self._clock()
        return _Token(
            access=access,
            refresh=fields.text("RefreshToken"),
            refresh_due_at=_refresh_due(parse_datetime(fields.get("AccessTokenExpireOn")), now),
            refresh_expires_at=_timestamp(parse_datetime(fields.get("RefreshTokenExpireOn"))),
        )


# --- module helpers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ErrorInfo:
    message: str | None
    code: int | None
    sub_errors: tuple[str, ...]
    field: str | None = None
    details: str | None = None

    @classmethod
    def from_payload(cls, payload: Any) -> _ErrorInfo:
        if not isinstance(payload, Mapping):
            return cls(None, None, ())
        f = Fields(payload)
        # ASP.NET model validation answers a ProblemDetails: {"title", "errors": {field: [msgs]}}.
        problems = f.get("errors")
        if isinstance(problems, Mapping) and problems:
            name, messages = next(iter(problems.items()))
            msgs = messages if isinstance(messages, list) else [messages]
            text = "; ".join(str(m) for m in msgs) or f.text("title")
            return cls(text, None, tuple(str(m) for m in msgs), field=str(name).lstrip("$.") or None)
        error = Fields(f.get("Error") if isinstance(f.get("Error"), Mapping) else None)
        subs = error.get("SubErrors")
        sub_errors = tuple(str(s) for s in subs) if isinstance(subs, list) else ()
        message = error.text("Message") or f.text("Message", "title")
        details = error.text("Details")
        field = error.text("Field", "PropertyName", "MemberName") or _field_from_text(
            (*sub_errors, message or "", details or "")
        )
        return cls(message, error.integer("Code"), sub_errors, field, details)

    def text(self, fallback: str) -> str:
        parts = [self.message] if self.message else []
        parts += [s for s in (self.details, *self.sub_errors) if s and s not in parts]
        return "; ".join(parts)[:500] if parts else fallback


# ASP.NET-style validation messages name the field in a few fixed phrasings.
_FIELD_PATTERNS = [
    re.compile(p)
    for p in (
        r"\bThe (\w+) field is required",
        r"\bThe field (\w+) must\b",
        r"\bis not valid for (\w+)",
        r"^\s*Invalid (\w+):",
        r"^\s*'?([A-Za-z][\w.]*)'?\s*:",
        r"^\s*'([A-Za-z][\w.]*)'",
    )
]


def _field_from_text(texts: Sequence[str]) -> str | None:
    for text in texts:
        for pattern in _FIELD_PATTERNS:
            match = pattern.search(text)
            if match:
                return match.group(1)
    return None


def _error_from_info(info: _ErrorInfo, status: int) -> BmsError:
    """Classify a 4xx or ``Success=false`` answer."""
    message = info.text(f"BMS refused the request (HTTP {status}).")
    lowered = message.lower()
    if "api access" in lowered:
        return BmsAuthenticationError(
            message, reason=AuthFailureReason.NO_API_ACCESS, status_code=status, code=info.code
        )
    if status == 403 or any(
        w in lowered for w in ("access right", "permission", "not authorized", "access denied", "not allowed")
    ):
        return BmsPermissionDenied(message, status_code=status, code=info.code)
    # On a 400 "does not exist" is about a referenced id in the input: a rejected request.
    if status in (404, 410) or (status == 200 and ("not found" in lowered or "does not exist" in lowered)):
        return BmsNotFound(message, status_code=status, code=info.code)
    return BmsRequestRejected(message, field=info.field, status_code=status, code=info.code)


# Sandbox convention (live BMS codes are undocumented; the message is the primary signal).
_AUTH_CODES = {
    978002: AuthFailureReason.WRONG_CREDENTIALS,
    978003: AuthFailureReason.WRONG_TENANT,
    978004: AuthFailureReason.NO_API_ACCESS,
}


def _auth_error(info: _ErrorInfo, status: int) -> BmsAuthenticationError:
    message = info.text("BMS refused the login.")
    lowered = message.lower()
    if info.code in _AUTH_CODES:
        reason = _AUTH_CODES[info.code]
    elif "api access" in lowered:
        reason = AuthFailureReason.NO_API_ACCESS
    elif "tenant" in lowered or "company" in lowered:
        reason = AuthFailureReason.WRONG_TENANT
    elif any(w in lowered for w in ("password", "user name", "username", "credential", "invalid user")):
        reason = AuthFailureReason.WRONG_CREDENTIALS
    else:
        reason = AuthFailureReason.UNKNOWN
    return BmsAuthenticationError(f"BMS login failed: {message}", reason=reason, status_code=status, code=info.code)


def _unwrap(payload: Any, status: int) -> _Envelope:
    """Accept the ``{success, error, result, totalRecords}`` envelope in any casing, or a bare DTO."""
    if isinstance(payload, list):
        return _Envelope(payload, None)
    if not isinstance(payload, Mapping):
        raise BmsNotABmsServer("Unexpected answer shape from the server.", status_code=status)
    f = Fields(payload)
    if not f.has("Success", "Result"):
        return _Envelope(payload, None)  # bare DTO (e.g. accounts/contacts summary by id)
    if f.get("Success") is False:
        info = _ErrorInfo.from_payload(payload)
        if _is_server_fault(info):
            raise BmsUnavailable(
                f"BMS failed to process the request: {info.text('server error')}", status_code=status, code=info.code
            )
        raise _error_from_info(info, status)
    return _Envelope(f.get("Result"), f.integer("TotalRecords"))


def _is_server_fault(info: _ErrorInfo) -> bool:
    """A ``Success=false`` that reports a server-side crash rather than a refusal.

    ASP.NET's catch-all message, or an HTTP-5xx-like error code (sandbox convention; live codes
    are undocumented). These are retried like a 5xx instead of the bounded ``Success=false`` retry.
    """
    generic = (info.message or "").lower().startswith("an error occurred while processing")
    return generic or (info.code is not None and 500 <= info.code <= 599)


def _is_success_false(exc: BmsError) -> bool:
    return type(exc) is BmsRequestRejected and exc.status_code == 200


def _try_json(response: requests.Response) -> Any:
    try:
        return json.loads(response.content, parse_float=Decimal)  # Decimal: money must stay exact
    except ValueError:
        return None
    except requests.exceptions.RequestException as exc:
        raise BmsUnavailable(f"The connection dropped mid-answer: {_short_reason(exc)}") from exc


def _read_capped(response: requests.Response, max_bytes: int) -> bytes:
    too_large = BmsResponseTooLarge(f"The attachment is larger than the {max_bytes} byte limit.")
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    content_type = response.headers.get("Content-Type", "")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise too_large
            chunks.append(chunk)
    except requests.exceptions.RequestException as exc:
        raise BmsUnavailable(f"The download was interrupted: {_short_reason(exc)}") from exc
    body = b"".join(chunks)
    if "json" in content_type:
        # BMS reports errors on the download endpoint in its usual JSON envelope.
        try:
            payload = json.loads(body)
        except ValueError:
            return body
        if isinstance(payload, Mapping) and Fields(payload).get("Success") is False:
            raise _error_from_info(_ErrorInfo.from_payload(payload), response.status_code)
    return body


def _retry_after(response: requests.Response, clock: Callable[[], float]) -> float:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, when.timestamp() - clock())


def _refresh_due(expires: datetime | None, now: float) -> float | None:
    expires_at = _timestamp(expires)
    if expires_at is None or expires_at <= now:
        return None  # unknown or already past by our clock (skew): rely on 401 instead
    return expires_at - min(REFRESH_MARGIN_SECONDS, (expires_at - now) * 0.2)


def _timestamp(value: datetime | None) -> float | None:
    return value.timestamp() if value else None


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


def _short_reason(exc: BaseException) -> str:
    # requests nests urllib3 errors; the innermost text is the useful part.
    text = str(exc.args[0] if exc.args else exc)
    match = re.search(r"\(Caused by \w+\((.*)\)\)\s*$", text)
    text = match.group(1) if match else text
    return text[:200]
