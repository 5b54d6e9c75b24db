"""Deterministic, lazily generated tenant data plus an overlay of mutations.

Why lazy: a 100,000-invoice tenant must start in about a second and stay small in
memory. Every base record is a pure function of (seed, entity, id). Ids are
1..N per entity; child entities are assigned to accounts round-robin
(``account = (id - 1) % accounts + 1``) and their ``createdOn`` increases with the
id, so an AccountId or a created-date filter narrows to an id range without a scan.
Changed, created and deleted records live in small overlay dicts.
"""

from __future__ import annotations

import copy
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from heapq import merge
from typing import Any

from . import constants as C
from . import contact_anomalies
from . import names as N

DAY = 86_400
YEAR = 365 * DAY
M64 = (1 << 64) - 1
ENTITIES = ("accounts", "contacts", "contracts", "tickets", "invoices")


def _mix(x: int) -> int:
    """splitmix64 finaliser: a cheap, well-distributed integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


_DAYS: dict[int, str] = {}  # day number -> "YYYY-MM-DD" (formatting dates is hot)
_MONTHS: dict[int, str] = {}


def _month_name(t: int) -> str:
    day = t // DAY
    m = _MONTHS.get(day)
    if m is None:
        m = _MONTHS[day] = time.strftime("%B %Y", time.gmtime(t))
    return m


class Rng:
    """splitmix64 PRNG: seeding random.Random costs ~50 us, this costs nothing (records are per-page)."""

    __slots__ = ("s",)

    def __init__(self, seed: int) -> None:
        self.s = seed & M64

    def next(self) -> int:
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def random(self) -> float:
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def randrange(self, n: int) -> int:
        return self.next() % n

    def randint(self, a: int, b: int) -> int:
        return a + self.next() % (b - a + 1)

    def choice(self, seq: Sequence[Any]) -> Any:
        return seq[self.next() % len(seq)]

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()


class Ts:
    """A UTC instant (epoch seconds). Serialised like live BMS: no zone designator."""

    __slots__ = ("t", "_s")

    def __init__(self, t: int) -> None:
        self.t = int(t)
        self._s: str | None = None

    def iso(self) -> str:
        if self._s is None:
            day, sec = divmod(self.t, DAY)
            d = _DAYS.get(day)
            if d is None:
                d = _DAYS[day] = time.strftime("%Y-%m-%d", time.gmtime(day * DAY))
            self._s = f"{d}T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"
        return self._s

    def __repr__(self) -> str:
        return f"Ts({self.iso()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ts) and other.t == self.t

    def __hash__(self) -> int:
        return hash(self.t)


def json_default(o: object) -> Any:
    if isinstance(o, Ts):
        return o.iso()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def parse_dt(value: str) -> int:
    """ISO-8601 date or date-time, with or without zone; naive means UTC."""
    s = value.strip()
    if s.endswith(("z", "Z")):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def to_plain(obj: Any) -> Any:
    """Deep copy with Ts turned into strings (for the test-only truth dump)."""
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Ts):
        return obj.iso()
    return obj


@dataclass
class Options:
    seed: int = 1
    accounts: int = 25
    contacts_per_account: int = 3
    contracts_per_account: int = 2
    tickets_per_account: int = 8
    invoices_per_account: int = 12
    lines_per_invoice: int = 3
    tenant: str = "Demo MSP"
    tenant_id: int = 1  # what /v2/security/userinfo answers as TenantId
    # How the tenant shows money and dates (userinfo's CurrencyCode, CultureCode, DateFormat);
    # accounts are in its currency. PUT /_sandbox/locale changes them until the next reset.
    currency_code: str = "USD"
    culture_code: str = "en-US"
    date_format: str = "MM/dd/yyyy"
    users: list[tuple[str, str]] = field(default_factory=lambda: [("api@demo.local", "demo-bms")])
    hourly_limit: int = 1500
    max_page_size: int = C.MAX_PAGE_SIZE
    anchor: str | None = None  # ISO date-time; default: today 00:00 UTC
    xero_url: str | None = None  # a Xero sandbox whose payments BMS imports (see xero_import.py)
    xero_import_interval: float = 0.0  # seconds between scheduled imports; 0: only on a control call


# A filter is (field, op, value); ops: eq, ge, le, in, contains (case-insensitive),
# in_ci (case-insensitive exact match against a set of lower-cased names).
Filter = tuple[str, str, Any]


def _match(op: str, v: Any, want: Any) -> bool:
    if op == "eq":
        return v == want
    if v is None:
        return False
    if op == "ge":
        return v >= want
    if op == "le":
        return v <= want
    if op == "in":
        return v in want
    if op == "contains":
        return want in str(v).lower()
    if op == "in_ci":
        return str(v).lower() in want
    raise ValueError(op)


@dataclass
class EntitySpec:
    name: str
    n: int
    gen: Callable[[int], dict[str, Any]]
    fast: dict[str, Callable[[int], Any]]  # filterable values of unmodified base records
    virtual: dict[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)
    monotone: frozenset[str] = frozenset()  # fast fields non-decreasing in id
    # field -> (monotone field, max lag): base value lies in [monotone value, monotone value + lag]
    lagged: dict[str, tuple[str, int]] = field(default_factory=dict)
    round_robin: bool = True  # base id -> account by (id - 1) % accounts + 1
    # fast fields a real server would keep an index on (equality filters on long listings)
    indexed: frozenset[str] = frozenset()


class Tenant:
    """Generated data + overlay + query engine. Thread-safe for concurrent readers."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.seed = opts.seed
        self.lock = threading.RLock()
        if opts.anchor:
            self.anchor = parse_dt(opts.anchor)
        else:
            now = int(time.time())
            self.anchor = now - now % DAY
        a = max(0, opts.accounts)
        self.A = a
        self.cpa, self.kpa = opts.contacts_per_account, opts.contracts_per_account
        self.tpa, self.ipa, self.lpi = opts.tickets_per_account, opts.invoices_per_account, opts.lines_per_invoice
        self._k = {name: _mix(self.seed * 1_000_003 + i + 1) for i, name in enumerate(ENTITIES)}
        self.clock_offset = 0
        self.specs: dict[str, EntitySpec] = {}
        self._build_specs()
        self._query_cache: OrderedDict[tuple[Any, ...], Sequence[int]] = OrderedDict()
        # value -> ids of the generated records, per (entity, field): generated data never changes.
        self._eq_indexes: dict[tuple[str, str], dict[Any, array]] = {}
        self.reset()

    # ------------------------------------------------------------------ basics
    def now(self) -> int:
        return int(time.time()) + self.clock_offset

    def h(self, ent: str, i: int, f: int = 0) -> int:
        return _mix(self._k[ent] ^ _mix(i * 4096 + f))

    def _created(self, ent: str, i: int, n: int, start: int, end: int) -> int:
        """Strictly increasing in i: slot i of n equal slots plus a jitter inside the slot."""
        step = max(1, (end - start) // max(1, n))
        return start + (i - 1) * step + self.h(ent, i, 1) % step

    @staticmethod
    def _skewed_lag(x: int, span: int) -> int:
        """A lag in [0, span), mostly small: most records were last modified soon after creation."""
        u = (x & 0xFFFFFFFF) / 2**32
        return int(max(0, span) * u**4)

    def reset(self) -> None:
        with self.lock:
            self.overlay: dict[str, dict[int, dict[str, Any]]] = {e: {} for e in ENTITIES}
            self.deleted: dict[str, set[int]] = {e: set() for e in ENTITIES}
            self.next_id = {e: s.n + 1 for e, s in self.specs.items()}
            self.next_location_id = 2 * self.A + 1
            self.next_line_id = self.A * self.ipa * self.lpi + 1
            self.next_sub_id = 10_000_000  # emails, phones, addresses of created records
            self.version = 0
            self.clock_offset = 0
            self.currency_code = self.opts.currency_code
            self.culture_code = self.opts.culture_code
            self.date_format = self.opts.date_format
            self._clear_gen_caches()
            self.anomalies: dict[str, Any] = {}  # opt-in odd shapes (PUT /_sandbox/anomalies); {}: none
            self._query_cache.clear()
            self._clear_gen_caches()

    def drop_caches(self) -> dict[str, Any]:
        """Forget what serving warmed (query results, the generated records kept hot, formatted
        days) and have every index built: each benchmark phase meets the same sandbox, however
        much the one before it read. The data does not change."""
        with self.lock:
            self._query_cache.clear()
            self._clear_gen_caches()
            _DAYS.clear()
            _MONTHS.clear()
        self.build_indexes()
        return self.cache_sizes()

    def cache_sizes(self) -> dict[str, Any]:
        return {
            "query_results": len(self._query_cache),
            "hot_invoices": self._gen_invoice.cache_info().currsize,
            "hot_accounts": self._gen_account.cache_info().currsize,
            "billing_contacts": self._billing_contact.cache_info().currsize,
            "formatted_days": len(_DAYS),
            "indexes": sorted(f"{entity}.{name}" for entity, name in self._eq_indexes),
        }

    def set_locale(self, currency_code: str | None, culture_code: str | None, date_format: str | None) -> dict:
        """The tenant's currency, culture and date format from now on (accounts included)."""
        with self.lock:
            self.currency_code = currency_code or self.currency_code
            self.culture_code = culture_code or self.culture_code
            self.date_format = date_format or self.date_format
            self._clear_gen_caches()
            self.bump()
        return self.locale()

    def locale(self) -> dict[str, str]:
        return {"currency_code": self.currency_code, "culture_code": self.culture_code, "date_format": self.date_format}

    def _clear_gen_caches(self) -> None:
        self._gen_account.cache_clear()
        self._gen_invoice.cache_clear()
        self._billing_contact.cache_clear()

    def bump(self) -> None:
        """Called under lock after any change: invalidates cached query results."""
        self.version += 1
        self._query_cache.clear()
        self._clear_gen_caches()

    def account_of(self, i: int) -> int:
        return (i - 1) % self.A + 1

    def ordinal(self, i: int) -> int:
        return (i - 1) // self.A

    # ------------------------------------------------------------------ accounts
    def _acc_created(self, a: int) -> int:
        return self._created("accounts", a, self.A, self.anchor - 5 * YEAR, self.anchor - 2 * YEAR)

    def _acc_modified(self, a: int) -> int:
        c = self._acc_created(a)
        return c + self._skewed_lag(self.h("accounts", a, 2), self.anchor - 3600 - c)

    def _acc_name_base(self, a: int) -> str:
        m = len(N.COMPANY_A) * len(N.COMPANY_B) * len(N.COMPANY_C)
        idx = ((a - 1) * 7919 + self.seed * 131) % m
        parts = [N.COMPANY_A[idx % 30], N.COMPANY_B[(idx // 30) % 30], N.COMPANY_C[idx // 900]]
        suffix = N.COMPANY_SUFFIX[self.h("accounts", a, 3) % len(N.COMPANY_SUFFIX)]
        if suffix:
            parts.append(suffix)
        if a > m:
            parts.append(str((a - 1) // m + 1))
        return contact_anomalies.account_name(self.anomalies, a, " ".join(parts))

    def _acc_active(self, a: int) -> bool:
        return self.h("accounts", a, 4) % 20 != 0

    def _acc_type(self, a: int) -> int:
        r = self.h("accounts", a, 5) % 10
        return 1 if r < 8 else (2 if r == 8 else 3)

    def billing_kind(self, a: int) -> str:
        """Which billing contacts a generated account has: recipient / poc_only / none."""
        r = self.h("accounts", a, 7) % 10
        return "recipient" if r < 6 else ("poc_only" if r < 8 else "none")

    def account_name(self, a: int) -> str | None:
        rec = self.overlay["accounts"].get(a)
        if rec is not None:
            return rec["accountName"]
        if 1 <= a <= self.A and a not in self.deleted["accounts"]:
            return self._acc_name_base(a)
        return None

    @lru_cache(maxsize=2048)  # noqa: B019 - bounded; cleared on every mutation
    def _gen_account(self, a: int) -> dict[str, Any]:
        rnd = Rng(self.h("accounts", a, 99))
        name = self._acc_name_base(a)
        words = [w for w in name.replace(".", "").split() if w not in ("LLC", "Inc", "Co", "Ltd")]
        domain = "".join(words[:3]).lower() + ".com"
        created, modified = self._acc_created(a), self._acc_modified(a)
        type_id = self._acc_type(a)
        bt_idx = (((a - 1) * 7919 + self.seed * 131) % 10800) // 900
        tax = rnd.choice(
            ((0.0, "Exempt"), (6.0, "State Tax 6%"), (7.25, "State Tax 7.25%"), (8.875, "City Tax 8.875%"))
        )
        tech = N.TECHNICIANS[rnd.randrange(len(N.TECHNICIANS))]
        locations = [self._location(a, 2 * a - 1, "Main Office", True, rnd, created, domain)]
        if a % 4 == 0:
            locations.append(self._location(a, 2 * a, "Branch Office", False, rnd, created, domain))
        return {
            "id": a,
            "createdBy": 1,
            "createdOn": Ts(created),
            "modifiedBy": 1,
            "modifiedOn": Ts(modified),
            "parentId": None,
            "accountCode": "".join(w[0] for w in words[:3]).upper() + f"{a:04d}",
            "accountTypeId": type_id,
            "accountType": {1: "Customer", 2: "Prospect", 3: "Partner"}[type_id],
            "accountName": name,
            "businessTypeId": bt_idx + 1,
            "businessType": N.BUSINESS_TYPES[bt_idx],
            "serviceTypeId": 1 + (a % 2),
            "serviceType": ("Managed Services", "Break/Fix")[a % 2],
            "accountManagerId": tech[0],
            "accountManagerUserName": tech[2],
            "currencyId": 1,
            "currencyName": self.currency_code,
            "creditLimit": float(rnd.choice((0, 5000, 10000, 25000))),
            "netDays": float(self._net_days(a)),
            "salesTaxItemId": int(tax[0] * 1000) or None,
            "salesTaxItemName": tax[1],
            "salesTaxRate": tax[0],
            "website": f"https://www.{domain}",
            "description": None,
            "classId": None,
            "className": None,
            "isActive": self._acc_active(a),
            "isBilling": type_id == 1,
            "acquiredDate": Ts(created - created % DAY),
            "tenantName": self.opts.tenant,
            "locations": locations,
            "_domain": domain,
        }

    def _net_days(self, a: int) -> int:
        return (30, 30, 15, 45, 60)[self.h("accounts", a, 6) % 5]

    def _location(
        self, a: int, loc_id: int, name: str, main: bool, rnd: Rng, created: int, domain: str
    ) -> dict[str, Any]:
        city, state, zp = N.CITIES[rnd.randrange(len(N.CITIES))]
        phone = f"({rnd.randint(201, 989)}) 555-{rnd.randint(100, 9999):04d}"

        def addr(addr_id: int, is_main: bool, billing: bool, street: str) -> dict[str, Any]:
            return {
                "id": addr_id,
                "createdBy": 1,
                "createdOn": Ts(created),
                "modifiedBy": 1,
                "modifiedOn": Ts(created),
                "address1": street,
                "address2": None,
                "city": city,
                "state": state,
                "zipCode": f"{zp}{rnd.randint(0, 99):02d}",
                "countryId": 1,
                "country": "United States",
                "phone": phone,
                "fax": None,
                "latitude": None,
                "longitude": None,
                "emailAddress": f"info@{domain}",
                "isMain": is_main,
                "isBilling": billing,
                "addressTypeId": 2 if billing and not is_main else 1,
                "addressType": "Billing" if billing and not is_main else "Office",
            }

        street = f"{rnd.randint(10, 9999)} {N.STREETS[rnd.randrange(len(N.STREETS))]}"
        separate_billing = main and a % 5 == 0
        addresses = [addr(2 * loc_id - 1, True, main and not separate_billing, street)]
        if separate_billing:
            addresses.append(addr(2 * loc_id, False, True, f"PO Box {rnd.randint(100, 9999)}"))
        return {
            "id": loc_id,
            "createdBy": 1,
            "createdOn": Ts(created),
            "modifiedBy": 1,
            "modifiedOn": Ts(created),
            "locationName": name,
            "isMain": main,
            "isActive": True,
            "timeZoneId": None,
            "dateFormatId": None,
            "timeFormatId": None,
            "addresses": addresses,
            "accountId": a,
        }

    # ------------------------------------------------------------------ contacts
    def _con_created(self, c: int) -> int:
        return self._created("contacts", c, self.A * self.cpa, self.anchor - 2 * YEAR, self.anchor - DAY)

    def _con_modified(self, c: int) -> int:
        cr = self._con_created(c)
        return cr + self._skewed_lag(self.h("contacts", c, 2), self.anchor - 3600 - cr)

    def _con_name(self, c: int) -> tuple[str, str]:
        x = self.h("contacts", c, 3)
        return N.FIRST_NAMES[x % 40], N.LAST_NAMES[(x >> 8) % 40]

    def _con_flags(self, c: int) -> tuple[bool, bool, bool]:
        """(isPoc, canRecieveInvoices, isActive) for a base contact."""
        a, k = self.account_of(c), self.ordinal(c)
        kind = self.billing_kind(a)
        poc = k == 0 and kind != "none"
        recv = kind == "recipient" and (k == 0 or (k == 1 and self.h("contacts", c, 4) % 2 == 0))
        active = k < 2 or self.h("contacts", c, 5) % 7 != 0
        return poc, recv, active

    def _gen_contact(self, c: int) -> dict[str, Any]:
        a, k = self.account_of(c), self.ordinal(c)
        acc = self.get("accounts", a)
        rnd = Rng(self.h("contacts", c, 99))
        first, last = self._con_name(c)
        poc, recv, active = self._con_flags(c)
        created = Ts(self._con_created(c))
        domain = (acc or {}).get("_domain") or "example.com"
        emails = []
        if recv or poc or self.h("contacts", c, 6) % 15 != 0:  # a few non-billing contacts lack an email
            emails.append(self._email(2 * c - 1, f"{first}.{last}@{domain}".lower(), True, created))
            if rnd.random() < 0.3:
                emails.append(
                    self._email(
                        2 * c, f"{first[0]}{last}{rnd.randint(1, 99)}@gmail.com".lower(), False, created, personal=True
                    )
                )
        phones = [self._phone(2 * c - 1, f"({rnd.randint(201, 989)}) 555-{rnd.randint(100, 9999):04d}", True, created)]
        if rnd.random() < 0.5:
            phones.append(
                self._phone(
                    2 * c, f"({rnd.randint(201, 989)}) 555-{rnd.randint(100, 9999):04d}", False, created, mobile=True
                )
            )
        loc = (acc or {}).get("locations") or [{}]
        title = "Accounts Payable" if recv and k == 1 else N.JOB_TITLES[rnd.randrange(len(N.JOB_TITLES))]
        rec = {
            "id": c,
            "createdBy": 1,
            "createdOn": created,
            "modifiedBy": 1,
            "modifiedOn": Ts(self._con_modified(c)),
            "accountId": a,
            "accountName": self.account_name(a),
            "locationId": loc[0].get("id"),
            "locationName": loc[0].get("locationName"),
            "firstName": first,
            "lastName": last,
            "jobTitle": title,
            "isPoc": poc,
            "isActive": active,
            "effectiveDate": created,
            "isBillable": True,
            "emails": emails,
            "phones": phones,
            "canRecieveInvoices": recv,
            "hasClientPortalAccess": k == 0,
        }
        contact_anomalies.contact(self.anomalies, rec, a, k)
        return rec

    @staticmethod
    def _email(eid: int, addr: str, default: bool, created: Ts, personal: bool = False) -> dict[str, Any]:
        return {
            "id": eid,
            "createdBy": 1,
            "createdOn": created,
            "modifiedBy": 1,
            "modifiedOn": created,
            "emailAddress": addr,
            "emailTypeId": 2 if personal else 1,
            "emailType": "Personal" if personal else "Work",
            "isDefault": default,
        }

    @staticmethod
    def _phone(pid: int, number: str, default: bool, created: Ts, mobile: bool = False) -> dict[str, Any]:
        return {
            "id": pid,
            "createdBy": 1,
            "createdOn": created,
            "modifiedBy": 1,
            "modifiedOn": created,
            "phone": number,
            "phoneTypeId": 2 if mobile else 1,
            "phoneType": "Mobile" if mobile else "Work",
            "isDefault": default,
        }

    # ------------------------------------------------------------------ contracts
    def _gen_contract(self, i: int) -> dict[str, Any]:
        a, k = self.account_of(i), self.ordinal(i)
        rnd = Rng(self.h("contracts", i, 99))
        name, ctype = N.CONTRACT_KINDS[0 if k == 0 else 1 + (k + rnd.randrange(6)) % 6]
        start = self._created("contracts", i, self.A * self.kpa, self.anchor - 3 * YEAR, self.anchor - 30 * DAY)
        start -= start % DAY
        end = start + rnd.choice((1, 2, 3)) * YEAR
        status = "Expired" if end < self.anchor else ("Inactive" if rnd.random() < 0.05 else "Active")
        sla = C.SLAS[rnd.randrange(len(C.SLAS))]
        return {
            "id": i,
            "contractName": name,
            "accountId": a,
            "accountName": self.account_name(a),
            "contractType": ctype,
            "contractBillingPrice": round(rnd.uniform(250, 4500), 2),
            "status": status,
            "contractNumber": f"CTR-{i:06d}",
            "billingCycle": rnd.choice(("Monthly", "Monthly", "Quarterly", "Annually")),
            "startDate": Ts(start),
            "endDate": Ts(end),
            "isDefault": k == 0,
            "sLAId": sla["id"],
            "sLAName": sla["name"],
            "isActive": status == "Active",
            "name": name,
        }

    # ------------------------------------------------------------------ invoices
    def _inv_created(self, i: int) -> int:
        return self._created("invoices", i, self.A * self.ipa, self.anchor - 2 * YEAR, self.anchor - DAY)

    def _inv_date(self, i: int) -> int:
        c = self._inv_created(i)
        return c - c % DAY

    def _inv_status(self, i: int, created: int | None = None) -> int:
        x = self.h("invoices", i, 2)
        if x % 50 == 0:
            return C.INV_VOID
        if created is None:
            created = self._inv_created(i)
        if created > self.anchor - 4 * DAY and x % 4 == 1:
            return C.INV_DRAFT
        due = created - created % DAY + self._net_days(self.account_of(i)) * DAY
        r = (x >> 8) % 100
        # Like a real ledger: old invoices are nearly all collected; a few stay open (bad debt).
        if due < self.anchor - 180 * DAY:
            return C.INV_PAID if r < 99 else C.INV_SENT
        if due < self.anchor - 30 * DAY:
            return C.INV_PAID if r < 85 else (C.INV_PARTIAL if r < 92 else C.INV_SENT)
        return C.INV_PAID if r < 40 else (C.INV_PARTIAL if r < 55 else C.INV_SENT)

    def _inv_posted(self, i: int, status: int | None = None) -> bool:
        if status is None:
            status = self._inv_status(i)
        return status not in (C.INV_DRAFT, C.INV_VOID) and self.h("invoices", i, 3) % 5 != 0

    def account_contacts(self, a: int) -> list[dict[str, Any]]:
        """Live contacts of an account: its generated ones plus created ones, by id."""
        out = []
        if a <= self.A:
            for k in range(self.cpa):
                c = self.get("contacts", a + k * self.A)
                if c and c["accountId"] == a:
                    out.append(c)
        n = self.specs["contacts"].n
        out += [r for i, r in sorted(list(self.overlay["contacts"].items())) if i > n and r["accountId"] == a]
        return out

    @lru_cache(maxsize=4096)  # noqa: B019 - bounded; cleared on every mutation
    def _billing_contact(self, a: int) -> dict[str, Any] | None:
        """The invoice's bill-to snapshot: the account's first invoice recipient, else its
        POC, else any contact, as generated. A snapshot, so later edits to contacts do not
        rewrite issued invoices (BMS copies the bill-to onto the invoice)."""
        if a > self.A:
            return None
        best, best_rank = None, 3
        for k in range(self.cpa):
            c = a + k * self.A
            poc, recv, _ = self._con_flags(c)
            rank = 0 if recv else (1 if poc else 2)
            if rank < best_rank:
                best, best_rank = c, rank
        return self._gen_contact(best) if best is not None else None

    # The invoices served lately stay generated (about 11 KB each), as a database keeps its hot
    # rows in memory: re-listing the open invoices of a large tenant does not build them again.
    @lru_cache(maxsize=12_000)  # noqa: B019 - bounded; cleared on every mutation
    def _gen_invoice(self, i: int) -> dict[str, Any]:
        a = self.account_of(i)
        # Generated invoices snapshot the account as generated (see _billing_contact).
        acc = self._gen_account(a) if 1 <= a <= self.A else (self.get("accounts", a) or {})
        rnd = Rng(self.h("invoices", i, 99))
        created = self._inv_created(i)
        inv_date = created - created % DAY
        status = self._inv_status(i, created)
        number = f"INV-{10000 + i}"
        month = _month_name(inv_date)
        lines = []
        for j in range(self.lpi):
            lid = (i - 1) * self.lpi + j + 1
            name, type_id, type_name, (lo, hi), taxable, recurring = N.LINE_CATALOG[rnd.randrange(10)]
            if type_id == 3:
                qty = rnd.randint(1, 16) / 2
            elif recurring:
                qty = float(rnd.randint(3, 40))
            else:
                qty = float(rnd.randint(1, 3))
            unit = round(rnd.uniform(lo, hi), 2)
            contract_id = a if recurring and self.kpa > 0 else 0
            lines.append(
                {
                    "id": lid,
                    "invoiceId": i,
                    "invoiceNumber": number,
                    "name": name,
                    "description": f"{name} - {month}",
                    "typeId": type_id,
                    "typeName": type_name,
                    "gLAccountId": 4000 + type_id,
                    "gLAccountCode": str(4000 + type_id),
                    "gLAccountName": f"{type_name} Revenue",
                    "classId": None,
                    "className": None,
                    "qty": qty,
                    "unitPrice": unit,
                    "totalPrice": round(qty * unit, 2),
                    "valueDate": Ts(inv_date),
                    "contractId": contract_id,
                    "contractName": "Managed Services Agreement" if contract_id else None,
                    "isTaxable": taxable,
                }
            )
        discount_items = []
        if rnd.random() < 0.1:
            total_nontax = sum(x["totalPrice"] for x in lines if not x["isTaxable"])
            if total_nontax > 0:
                discount_items.append(
                    {
                        "id": i,
                        "invoiceId": i,
                        "invoiceNumber": number,
                        "name": "Loyalty discount",
                        "typeId": 1,
                        "typeName": "Discount",
                        "value": round(total_nontax * 0.05, 2),
                        "isTaxable": False,
                        "createdById": 1,
                        "createdByUserName": "admin",
                        "createdOn": Ts(created),
                        "modifiedById": 1,
                        "modifiedByUserName": "admin",
                        "modifiedOn": Ts(created),
                    }
                )
        rec = {
            "id": i,
            "invoiceNumber": number,
            "statusId": status,
            "accountId": a,
            "accountName": self.account_name(a),
            "createdOn": Ts(created),
            "invoiceDate": Ts(inv_date),
            "dueDate": Ts(inv_date + self._net_days(a) * DAY),
            "lineItems": lines,
            "discountItems": discount_items,
            "postedToAccounting": self._inv_posted(i, status),
        }
        self._fill_invoice(rec, acc, rnd)
        return rec

    def _fill_invoice(self, rec: dict[str, Any], acc: dict[str, Any], rnd: Rng) -> None:
        """Derived invoice fields: totals, status-dependent amounts, bill-to snapshot."""
        a = rec["accountId"]
        status = rec["statusId"]
        rate = acc.get("salesTaxRate", 0.0) or 0.0
        total = round(float(sum(x["totalPrice"] for x in rec["lineItems"])), 2)
        taxable = sum(x["totalPrice"] for x in rec["lineItems"] if x["isTaxable"])
        discount = round(float(sum(x["value"] for x in rec["discountItems"])), 2)
        tax = round(taxable * rate / 100, 2)
        grand = round(total - discount + tax, 2)
        if status == C.INV_PAID:
            paid = grand
        elif status == C.INV_PARTIAL:
            paid = round(grand * rnd.choice((0.25, 0.4, 0.5, 0.6, 0.75)), 2)
        else:
            paid = 0.0
        inv_date = rec["invoiceDate"].t
        created = rec["createdOn"].t
        modified = created
        if status in (C.INV_PAID, C.INV_PARTIAL):
            modified = min(self.anchor - 60, inv_date + rnd.randint(3, 45) * DAY)
        modified = max(modified, created)
        loc = (acc.get("locations") or [{}])[0]
        billing = (
            next(
                (ad for lo in acc.get("locations") or [] for ad in lo.get("addresses", []) if ad.get("isBilling")), None
            )
            or (loc.get("addresses") or [{}])[0]
        )
        contact = self._billing_contact(a)
        email = next((e["emailAddress"] for e in (contact or {}).get("emails", []) if e["isDefault"]), None)
        phone = next((p["phone"] for p in (contact or {}).get("phones", []) if p["isDefault"]), None)
        month_start = inv_date - (int(time.strftime("%d", time.gmtime(inv_date))) - 1) * DAY
        tech = N.TECHNICIANS[a % len(N.TECHNICIANS)]
        rec.update(
            {
                "statusName": C.INVOICE_STATUSES[status],
                "notes": None,
                "accountLocationId": loc.get("id"),
                "accountLocationName": loc.get("locationName"),
                "projectId": None,
                "projectName": None,
                "pONumber": f"PO-{rnd.randint(1000, 99999)}" if rnd.random() < 0.2 else None,
                "salesTaxItemId": acc.get("salesTaxItemId"),
                "salesTaxItemName": acc.get("salesTaxItemName"),
                "salesRepId": tech[0],
                "salesRepName": tech[1],
                "classId": None,
                "className": None,
                "discount": discount,
                "salesTaxRate": rate,
                "totalPrice": total,
                "totalTax": tax,
                "grandTotal": grand,
                "paymentDue": round(grand - paid, 2) if status != C.INV_VOID else 0.0,
                "paidAmount": paid,
                "invoiceFrom": Ts(month_start),
                "invoiceTo": Ts(month_start + 29 * DAY),
                "sentOn": Ts(inv_date + 3600) if status not in (C.INV_DRAFT,) else None,
                "contactFirstName": (contact or {}).get("firstName"),
                "contactLastName": (contact or {}).get("lastName"),
                "address1": billing.get("address1"),
                "address2": billing.get("address2"),
                "state": billing.get("state"),
                "city": billing.get("city"),
                "countryName": billing.get("country"),
                "zipCode": billing.get("zipCode"),
                "emailAddress": email,
                "phoneNumber": phone,
                "extension": None,
                "mobileNumber": None,
                "faxNumber": None,
                "sentByUserName": "billing" if status != C.INV_DRAFT else None,
                "createdById": 1,
                "createdByUserName": "billing",
                "modifiedById": 1,
                "modifiedByUserName": "billing",
                "modifiedOn": Ts(modified),
                "postedToAccountingOn": Ts(inv_date + 2 * DAY) if rec.get("postedToAccounting") else None,
                "accountingAppReference": f"QB-{rec['id']}" if rec.get("postedToAccounting") else None,
                "generatedOn": Ts(created),
            }
        )

    # ------------------------------------------------------------------ tickets
    def _tkt_created(self, i: int) -> int:
        return self._created("tickets", i, self.A * self.tpa, self.anchor - YEAR, self.anchor - 3600)

    def _tkt_status(self, i: int) -> int:
        x = self.h("tickets", i, 2) % 100
        if self._tkt_created(i) < self.anchor - 14 * DAY:
            return C.STATUS_COMPLETED if x < 90 else 1 + x % 4
        return 1 + x % 5

    def _tkt_activity(self, i: int) -> int:
        c = self._tkt_created(i)
        return c + self.h("tickets", i, 3) % max(60, min(self.anchor - 60 - c, 30 * DAY))

    def _tkt_template(self, i: int) -> int:
        return self.h("tickets", i, 4) % len(N.TICKET_TEMPLATES)

    def _tkt_number(self, i: int) -> str:
        created = self._tkt_created(i)
        day = created - created % DAY
        lo, hi = 1, i  # first ticket id created on the same day (createdOn increases with id)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._tkt_created(mid) >= day:
                hi = mid
            else:
                lo = mid + 1
        return f"T{time.strftime('%Y%m%d', time.gmtime(created))}.{i - lo + 1:04d}"

    def _gen_ticket(self, i: int) -> dict[str, Any]:
        a = self.account_of(i)
        rnd = Rng(self.h("tickets", i, 99))
        acc = self.get("accounts", a) or {}
        title, details = N.TICKET_TEMPLATES[self._tkt_template(i)]
        contact_id = a + rnd.randrange(self.cpa) * self.A if self.cpa else None
        contact = self.get("contacts", contact_id) if contact_id else None
        status = self._tkt_status(i)
        created = self._tkt_created(i)
        activity = self._tkt_activity(i)
        rec: dict[str, Any] = {
            "id": i,
            "ticketNumber": self._tkt_number(i),
            "title": title,
            "details": details,
            "accountId": a,
            "createdOn": Ts(created),
            "openDate": Ts(created),
            "lastActivityUpdate": Ts(activity),
            "modifiedOn": Ts(activity),
            "statusId": status,
            "completedDate": Ts(activity) if status == C.STATUS_COMPLETED else None,
            "lastStatusUpdate": Ts(activity),
            "lastPriorityUpdate": Ts(created),
            "lastQueueUpdate": Ts(created),
            "dueDate": Ts(created + rnd.choice((1, 2, 3, 5)) * DAY),
            "priorityId": rnd.choice((1, 2, 2, 2, 3, 3, 4)),
            "queueId": rnd.choice((1, 1, 1, 2, 3, 4)),
            "typeId": rnd.choice((1, 1, 2, 2, 3, 4)),
            "sourceId": rnd.choice((0, 1, 4, 4, 5, 8)),
            "issueTypeId": 1 + rnd.randrange(5),
            "assigneeId": 1 + rnd.randrange(len(N.TECHNICIANS)),
            "contactId": contact["id"] if contact else None,
            "contractId": a if self.kpa else None,
            "locationId": (acc.get("locations") or [{}])[0].get("id"),
        }
        subs = C.ISSUE_SUBTYPES[rec["issueTypeId"]]
        rec["subIssueTypeId"] = subs[rnd.randrange(len(subs))]["id"]
        self._fill_ticket(rec)
        return rec

    def _fill_ticket(self, rec: dict[str, Any]) -> None:
        """Denormalised names (…Name, colours) from the ids, for list and output DTOs."""
        a = rec["accountId"]
        acc = self.get("accounts", a) or {}
        loc = next((lo for lo in acc.get("locations") or [] if lo["id"] == rec.get("locationId")), {})
        contact = self.get("contacts", rec["contactId"]) if rec.get("contactId") else None
        status = next(s for s in C.STATUSES if s["id"] == rec["statusId"])
        prio = next(p for p in C.PRIORITIES if p["id"] == rec["priorityId"])
        queue = next((q for q in C.QUEUES if q["id"] == rec.get("queueId")), None)
        ttype = next((t for t in C.LOOKUP_TABLES["TicketType"] if t["id"] == rec.get("typeId")), None)
        source = next((t for t in C.LOOKUP_TABLES["TicketSource"] if t["id"] == rec.get("sourceId")), None)
        issue = next((t for t in C.ISSUE_TYPES if t["id"] == rec.get("issueTypeId")), None)
        sub = next(
            (s for subs in C.ISSUE_SUBTYPES.values() for s in subs if s["id"] == rec.get("subIssueTypeId")), None
        )
        tech = next((t for t in N.TECHNICIANS if t[0] == rec.get("assigneeId")), None)
        contract = self.get("contracts", rec["contractId"]) if rec.get("contractId") else None
        phone = next((p["phone"] for p in (contact or {}).get("phones", []) if p["isDefault"]), None)
        email = next((e["emailAddress"] for e in (contact or {}).get("emails", []) if e["isDefault"]), None)
        rec.update(
            {
                "createdBy": 1,
                "modifiedBy": 1,
                "tenantName": self.opts.tenant,
                "tenantId": 1,
                "accountCode": acc.get("accountCode"),
                "accountName": acc.get("accountName"),
                "locationName": loc.get("locationName"),
                "locationPhone": (loc.get("addresses") or [{}])[0].get("phone"),
                "contactName": f"{contact['firstName']} {contact['lastName']}" if contact else None,
                "contactPhone": phone,
                "contactEmail": email,
                "queueName": queue["name"] if queue else None,
                "statusName": status["name"],
                "statusColor": status["color"],
                "statusForeColor": status["fontColor"],
                "statusOrder": status["statusOrder"],
                "priorityName": prio["name"],
                "priorityColor": prio["color"],
                "typeName": ttype["name"] if ttype else None,
                "sourceName": source["name"] if source else None,
                "issueTypeName": issue["name"] if issue else None,
                "subIssueTypeName": sub["name"] if sub else None,
                "contractNumber": contract["contractNumber"] if contract else None,
                "contractName": contract["contractName"] if contract else None,
                "assigneeName": tech[1] if tech else None,
                "isScheduled": 0,
                "hardwareAssetId": 0,
                "createdByName": "Alex Morgan",
                "hasPostedEntries": False,
                "isReadOnly": False,
                "openDateLocked": False,
                "cCs": rec.get("cCs") or [],
                "secondaryAssignees": rec.get("secondaryAssignees") or [],
            }
        )

    # ------------------------------------------------------------------ specs + access
    def _build_specs(self) -> None:
        A = self.A

        def rr_account(i: int) -> int:
            return self.account_of(i)

        def acc_name(i: int) -> str | None:
            return self.account_name(self.account_of(i))

        def emails_text(r: dict[str, Any]) -> str:
            return " ".join(e["emailAddress"] or "" for e in r.get("emails") or [])

        def phones_text(r: dict[str, Any]) -> str:
            return " ".join(p["phone"] or "" for p in r.get("phones") or [])

        self.specs = {
            "accounts": EntitySpec(
                "accounts",
                A,
                self._gen_account,
                fast={
                    "id": lambda a: a,
                    "createdOn": self._acc_created,
                    "modifiedOn": self._acc_modified,
                    "accountName": self._acc_name_base,
                    "isActive": self._acc_active,
                    "accountTypeId": self._acc_type,
                },
                monotone=frozenset({"id", "createdOn"}),
                round_robin=False,
            ),
            "contacts": EntitySpec(
                "contacts",
                A * self.cpa,
                self._gen_contact,
                fast={
                    "id": lambda c: c,
                    "accountId": rr_account,
                    "createdOn": self._con_created,
                    "modifiedOn": self._con_modified,
                    "accountName": acc_name,
                    "firstName": lambda c: self._con_name(c)[0],
                    "lastName": lambda c: self._con_name(c)[1],
                    "isPoc": lambda c: self._con_flags(c)[0],
                    "isActive": lambda c: self._con_flags(c)[2],
                },
                virtual={"emailText": emails_text, "phoneText": phones_text},
                monotone=frozenset({"id", "createdOn"}),
            ),
            "contracts": EntitySpec(
                "contracts",
                A * self.kpa,
                self._gen_contract,
                fast={"id": lambda i: i, "accountId": rr_account, "accountName": acc_name},
                monotone=frozenset({"id"}),
            ),
            "tickets": EntitySpec(
                "tickets",
                A * self.tpa,
                self._gen_ticket,
                fast={
                    "id": lambda i: i,
                    "accountId": rr_account,
                    "createdOn": self._tkt_created,
                    "openDate": self._tkt_created,
                    "lastActivityUpdate": self._tkt_activity,
                    "statusId": self._tkt_status,
                    "accountName": acc_name,
                    "title": lambda i: N.TICKET_TEMPLATES[self._tkt_template(i)][0],
                    "details": lambda i: N.TICKET_TEMPLATES[self._tkt_template(i)][1],
                },
                monotone=frozenset({"id", "createdOn", "openDate"}),
                lagged={"lastActivityUpdate": ("createdOn", 30 * DAY)},
            ),
            "invoices": EntitySpec(
                "invoices",
                A * self.ipa,
                self._gen_invoice,
                fast={
                    "id": lambda i: i,
                    "accountId": rr_account,
                    "createdOn": self._inv_created,
                    "invoiceDate": self._inv_date,
                    "statusId": self._inv_status,
                    "postedToAccounting": self._inv_posted,
                    "accountName": acc_name,
                    "invoiceNumber": lambda i: f"INV-{10000 + i}",
                },
                monotone=frozenset({"id", "createdOn", "invoiceDate"}),
                indexed=frozenset({"statusId"}),
            ),
        }

    def get(self, ent: str, i: int | None) -> dict[str, Any] | None:
        if i is None:
            return None
        rec = self.overlay[ent].get(i)
        if rec is not None:
            return rec
        if i in self.deleted[ent] or not 1 <= i <= self.specs[ent].n:
            return None
        return self.specs[ent].gen(i)

    def count(self, ent: str) -> int:
        spec = self.specs[ent]
        extra = sum(1 for i in self.overlay[ent] if i > spec.n)
        return spec.n - sum(1 for i in self.deleted[ent] if i <= spec.n) + extra

    def all_ids(self, ent: str) -> Iterable[int]:
        return self.query(ent, ())

    # ------------------------------------------------------------------ query engine
    def _value(self, spec: EntitySpec, rec: dict[str, Any], fld: str) -> Any:
        fn = spec.virtual.get(fld)
        v = fn(rec) if fn else rec.get(fld)
        return v.t if isinstance(v, Ts) else v

    def query(self, ent: str, filters: tuple[Filter, ...]) -> Sequence[int]:
        """Ids (ascending) of live records matching all filters; cached per data version."""
        key = (ent, filters, self.version)
        hit = self._query_cache.get(key)
        if hit is not None:
            return hit
        spec = self.specs[ent]
        with self.lock:  # mutations change the overlay dicts this iterates
            result = self._run_query(spec, filters)
        with self.lock:
            if key[2] == self.version:
                self._query_cache[key] = result
                while len(self._query_cache) > 32:
                    self._query_cache.popitem(last=False)
        return result

    def _first_ge(self, fn: Callable[[int], Any], want: Any, lo: int, hi: int) -> int:
        while lo < hi:
            mid = (lo + hi) // 2
            if fn(mid) >= want:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _run_query(self, spec: EntitySpec, filters: tuple[Filter, ...]) -> Sequence[int]:
        overlay, deleted = self.overlay[spec.name], self.deleted[spec.name]
        lo, hi = 1, spec.n
        accounts: set[int] | None = None
        rest: list[Filter] = []
        for f in filters:
            fld, op, want = f
            if fld in spec.monotone and op in ("ge", "le", "eq"):
                fn = spec.fast[fld]
                if op in ("ge", "eq"):
                    lo = max(lo, self._first_ge(fn, want, lo, hi + 1))
                if op in ("le", "eq"):
                    hi = min(hi, self._first_ge(lambda i, fn=fn, want=want: fn(i) > want, True, lo, hi + 1) - 1)
                if fld != "id" and op == "eq":
                    rest.append(f)
            elif fld in spec.lagged and op in ("ge", "le"):
                # narrow by the monotone field it trails, then check the real value per id
                mono, lag = spec.lagged[fld]
                fn = spec.fast[mono]
                if op == "ge":
                    lo = max(lo, self._first_ge(fn, want - lag, lo, hi + 1))
                else:
                    hi = min(hi, self._first_ge(lambda i, fn=fn, want=want: fn(i) > want, True, lo, hi + 1) - 1)
                rest.append(f)
            elif fld == "accountName" and spec.round_robin and op == "contains":
                # a child's accountName is its account's: filter the (few) accounts instead
                want_set = {a for a in range(1, self.A + 1) if want in (self.account_name(a) or "").lower()}
                accounts = want_set if accounts is None else accounts & want_set
            elif fld == "accountId" and spec.round_robin and op in ("eq", "in"):
                want_set = {want} if op == "eq" else set(want)
                accounts = want_set if accounts is None else accounts & want_set
            else:
                rest.append(f)
        # candidate base ids (without scanning where arithmetic allows)
        base: Iterable[int]
        indexed = next((f for f in rest if f[1] == "eq" and f[0] in spec.fast and f[0] not in spec.monotone), None)
        if accounts is None and indexed is not None:
            # An equality filter on a generated field (statusId...): an index built once,
            # as a database would keep one, instead of a scan per value.
            ids = self._eq_index(spec, indexed[0]).get(indexed[2], ())
            base = (i for i in ids if lo <= i <= hi)
        elif accounts is not None:
            ranges = []
            for a in sorted(accounts):
                if not isinstance(a, int) or not 1 <= a <= self.A:
                    continue
                start = a if lo <= a else a + -(-(lo - a) // self.A) * self.A
                ranges.append(range(start, hi + 1, self.A))
            base = merge(*ranges)
        else:
            base = range(lo, hi + 1)
        if not rest and not overlay and not deleted and accounts is None:
            return base  # type: ignore[return-value]  # a range: no memory, O(1) slicing
        skip = deleted | overlay.keys() if (deleted or overlay) else None
        fast_preds: list[tuple[Callable[[int], Any], str, Any]] = []
        slow_preds: list[Filter] = []
        for fld, op, want in rest:
            if fld in spec.fast:
                fast_preds.append((spec.fast[fld], op, want))
            else:
                slow_preds.append((fld, op, want))
        out = array("l")
        for i in base:
            if skip and i in skip:
                continue
            if all(_match(op, fn(i), want) for fn, op, want in fast_preds):
                if slow_preds:
                    rec = spec.gen(i)
                    if not all(_match(op, self._value(spec, rec, fld), want) for fld, op, want in slow_preds):
                        continue
                out.append(i)
        extra = []
        for i, rec in overlay.items():
            if all(_match(op, self._value(spec, rec, fld), want) for fld, op, want in filters):
                extra.append(i)
        if extra:
            merged = array("l", sorted([*out, *extra]))
            return merged
        return out

    def build_indexes(self) -> None:
        """Build the indexes of the specs' indexed fields now (the server does it in the
        background at start), as a database has its indexes before the first query."""
        for spec in self.specs.values():
            for field_name in sorted(spec.indexed):
                self._eq_index(spec, field_name)

    def _eq_index(self, spec: EntitySpec, field: str) -> dict[Any, array]:
        index = self._eq_indexes.get((spec.name, field))
        if index is None:
            fn = spec.fast[field]
            index = {}
            for i in range(1, spec.n + 1):
                index.setdefault(fn(i), array("l")).append(i)
            self._eq_indexes[(spec.name, field)] = index
        return index

    # ------------------------------------------------------------------ mutations
    def materialise(self, ent: str, i: int) -> dict[str, Any]:
        """Copy a record into the overlay (caller holds the lock) so it can be changed."""
        rec = self.get(ent, i)
        if rec is None:
            raise KeyError(f"{ent} {i} not found")
        if i not in self.overlay[ent]:
            rec = copy.deepcopy(rec)
            self.overlay[ent][i] = rec
        return rec

    def new_id(self, ent: str) -> int:
        i = self.next_id[ent]
        self.next_id[ent] += 1
        return i

    def new_sub_id(self) -> int:
        self.next_sub_id += 1
        return self.next_sub_id
