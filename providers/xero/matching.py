"""Which BMS organization a Xero contact is: a stored link first, then the account number, then the
normalized name.

Invariants:
- A link made by hand always wins and is never changed by an automatic match.
- An automatic match must be unambiguous: an account number or a normalized name shared by two
  organizations matches neither (staff link it by hand on **Unmatched in Xero**).
- Account numbers compare without case or surrounding spaces; names after ``normalize_name``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

from organizations.models import Organization

from .models import ContactMatch

# Legal-form words dropped from the end of a name ("Acme, Inc." is "Acme").
_LEGAL_SUFFIXES = {
    "inc",
    "incorporated",
    "llc",
    "llp",
    "lp",
    "ltd",
    "limited",
    "co",
    "corp",
    "corporation",
    "company",
    "plc",
    "pty",
    "pte",
    "gmbh",
    "ag",
    "bv",
    "nv",
    "sa",
    "sarl",
    "srl",
    "oy",
    "ab",
    "as",
    "kg",
}


def normalize_name(name: str) -> str:
    """``"ACME, INC."`` → ``"acme"``: accents folded, case folded, ``&`` as "and", punctuation gone,
    a leading "the" and trailing legal forms dropped, spaces collapsed."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ")
    text = re.sub(r"[^\w\s]", " ", text)
    words = text.split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    while len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words = words[:-1]
    return " ".join(words)


def normalize_account_number(value: str | None) -> str:
    return (value or "").strip().casefold()


class OrganizationIndex:
    """The organizations to match against, indexed by account number and normalized name."""

    def __init__(self, organizations: Iterable[Organization]) -> None:
        by_code: dict[str, set[int]] = defaultdict(set)
        by_name: dict[str, set[int]] = defaultdict(set)
        for org in organizations:
            if code := normalize_account_number(org.code):
                by_code[code].add(org.pk)
            if name := normalize_name(org.name):
                by_name[name].add(org.pk)
        # Only unambiguous keys match.
        self._by_code = {k: next(iter(v)) for k, v in by_code.items() if len(v) == 1}
        self._by_name = {k: next(iter(v)) for k, v in by_name.items() if len(v) == 1}

    @classmethod
    def current(cls) -> OrganizationIndex:
        return cls(Organization.objects.filter(deleted_at__isnull=True).only("pk", "name", "code"))

    def match(self, *, account_number: str | None, name: str) -> tuple[int | None, str]:
        """(organization pk or None, ContactMatch) by account number, then by name."""
        if (code := normalize_account_number(account_number)) and code in self._by_code:
            return self._by_code[code], ContactMatch.ACCOUNT_NUMBER
        if (key := normalize_name(name)) and key in self._by_name:
            return self._by_name[key], ContactMatch.NAME
        return None, ContactMatch.NONE
