"""Xero's `where` filter: a small, strict subset of its .NET-expression syntax.

Supported: ``Path == value`` (also ``!=, <, <=, >, >=``), ``Path.Contains("x")``,
``Path.StartsWith("x")``, ``Path.EndsWith("x")``, ``Path.ToLower() == "x"`` /
``ToUpper()``, combined with ``AND``/``&&``, ``OR``/``||``, ``NOT``/``!`` and
parentheses. Values: "strings" (``\\"`` escapes), ``guid("...")``, ``DateTime(y,m,d[,h,m,s])``,
numbers, ``true``/``false``, ``null``. Paths may be dotted (``Contact.ContactID``) and are
matched case-insensitively against the rendered record. Anything else raises
WhereError, which the API answers with HTTP 400.

Semantics: string ``==`` is case-sensitive (use ToLower() for the other); guids compare
case-insensitively; a DateTime compares with a ``/Date(ms)/`` field as an instant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .data import parse_ms_date


class WhereError(ValueError):
    pass


@dataclass(frozen=True)
class Guid:
    value: str


@dataclass(frozen=True)
class Instant:
    ts: int


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op>==|!=|>=|<=|&&|\|\||[<>!(),.])
    | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_METHODS = {"contains", "startswith", "endswith"}
_TRANSFORMS = {"tolower", "toupper"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise WhereError(f"Unexpected character at position {pos} in where clause: '{text[pos : pos + 10]}'")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str, fields: set[str], type_name: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.fields = fields
        self.type_name = type_name

    def peek(self, k: int = 0) -> tuple[str, str] | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        t = self.peek()
        if t is None:
            raise WhereError("Unexpected end of where clause")
        self.i += 1
        return t

    def expect(self, value: str) -> None:
        t = self.take()
        if t[1] != value:
            raise WhereError(f"Expected '{value}' but found '{t[1]}' in where clause")

    def is_kw(self, *words: str) -> bool:
        t = self.peek()
        return t is not None and t[0] == "id" and t[1].upper() in words

    def parse(self) -> Any:
        node = self.or_expr()
        if self.peek() is not None:
            raise WhereError(f"Unexpected '{self.peek()[1]}' in where clause")  # type: ignore[index]
        return node

    def or_expr(self) -> Any:
        parts = [self.and_expr()]
        while self.is_kw("OR") or (self.peek() or ("", ""))[1] == "||":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def and_expr(self) -> Any:
        parts = [self.unary()]
        while self.is_kw("AND") or (self.peek() or ("", ""))[1] == "&&":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def unary(self) -> Any:
        if self.is_kw("NOT") or (self.peek() or ("", ""))[1] == "!":
            self.take()
            return ("not", self.unary())
        if (self.peek() or ("", ""))[1] == "(":
            self.take()
            node = self.or_expr()
            self.expect(")")
            return node
        return self.comparison()

    def comparison(self) -> Any:
        path, transform, method = self.operand()
        if method is not None:
            self.expect("(")
            arg = self.value()
            self.expect(")")
            if not isinstance(arg, str):
                raise WhereError(f"{method} expects a string argument")
            return ("call", path, transform, method, arg)
        t = self.take()
        if t[0] != "op" or t[1] not in ("==", "!=", "<", "<=", ">", ">="):
            raise WhereError(f"Expected a comparison operator after '{'.'.join(path)}' but found '{t[1]}'")
        return ("cmp", path, transform, t[1], self.value())

    def operand(self) -> tuple[tuple[str, ...], str | None, str | None]:
        t = self.take()
        if t[0] != "id":
            raise WhereError(f"Expected a field name but found '{t[1]}'")
        parts = [t[1]]
        transform = method = None
        while (self.peek() or ("", ""))[1] == ".":
            self.take()
            name = self.take()
            if name[0] != "id":
                raise WhereError(f"Expected a name after '.' but found '{name[1]}'")
            low = name[1].lower()
            if low in _TRANSFORMS and (self.peek() or ("", ""))[1] == "(":
                self.expect("(")
                self.expect(")")
                transform = low
            elif low in _METHODS and (self.peek() or ("", ""))[1] == "(":
                method = low
                break
            elif (self.peek() or ("", ""))[1] == "(":
                raise WhereError(f"Method '{name[1]}' is not supported in where clauses by the sandbox")
            else:
                if transform:
                    raise WhereError("A property cannot follow ToLower()/ToUpper()")
                parts.append(name[1])
        if parts[0].lower() not in self.fields:
            raise WhereError(f"No property or field '{parts[0]}' exists in type '{self.type_name}'")
        return tuple(parts), transform, method

    def value(self) -> Any:
        t = self.take()
        kind, text = t
        if kind == "str":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "id":
            low = text.lower()
            if low == "true":
                return True
            if low == "false":
                return False
            if low == "null":
                return None
            if low == "guid":
                self.expect("(")
                s = self.take()
                if s[0] != "str":
                    raise WhereError("guid() expects a quoted string")
                self.expect(")")
                return Guid(s[1][1:-1].lower())
            if low == "datetime":
                self.expect("(")
                nums = [self.take()]
                while (self.peek() or ("", ""))[1] == ",":
                    self.take()
                    nums.append(self.take())
                self.expect(")")
                if not 3 <= len(nums) <= 6 or any(k != "num" for k, _ in nums):
                    raise WhereError("DateTime() expects 3 to 6 integers: DateTime(year, month, day[, h, m, s])")
                try:
                    dt = datetime(*(int(v) for _, v in nums), tzinfo=UTC)  # type: ignore[misc]
                except ValueError as e:
                    raise WhereError(f"Invalid DateTime: {e}") from e
                return Instant(int(dt.timestamp()))
        raise WhereError(f"Expected a value but found '{text}'")


def parse_where(text: str, fields: set[str], type_name: str) -> Any:
    """Parse a where clause; `fields` are the lower-cased top-level property names of the type."""
    if not text.strip():
        return None
    return _Parser(text, {f.lower() for f in fields}, type_name).parse()


def _lookup(rec: Any, path: tuple[str, ...]) -> Any:
    cur = rec
    for part in path:
        if not isinstance(cur, dict):
            return None
        low = part.lower()
        cur = next((v for k, v in cur.items() if k.lower() == low), None)
    return cur


def _cmp(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, Guid):
        left = str(left).lower() if left is not None else None
        right = right.value
    elif isinstance(right, Instant):
        if not isinstance(left, str) or not left.startswith("/Date("):
            return False
        left, right = parse_ms_date(left), right.ts
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if left is None or right is None:
        return False
    try:
        if op == "<":
            return left < right
        if op == "<=":
            return left <= right
        if op == ">":
            return left > right
        return left >= right
    except TypeError:
        return False


def evaluate(node: Any, rec: dict[str, Any]) -> bool:
    if node is None:
        return True
    tag = node[0]
    if tag == "and":
        return all(evaluate(n, rec) for n in node[1])
    if tag == "or":
        return any(evaluate(n, rec) for n in node[1])
    if tag == "not":
        return not evaluate(node[1], rec)
    _, path, transform, op_or_method, arg = node
    left = _lookup(rec, path)
    if transform and isinstance(left, str):
        left = left.lower() if transform == "tolower" else left.upper()
    if tag == "call":
        if not isinstance(left, str):
            return False
        if op_or_method == "contains":
            return arg in left
        if op_or_method == "startswith":
            return left.startswith(arg)
        return left.endswith(arg)
    return _cmp(left, op_or_method, arg)


def equalities(node: Any) -> dict[str, Any]:
    """`path == literal` conjuncts at the top level (lower-cased dotted path -> value), for
    narrowing candidates before the full evaluation."""
    if node is None:
        return {}
    conj = node[1] if node[0] == "and" else [node]
    out: dict[str, Any] = {}
    for n in conj:
        if n[0] == "cmp" and n[3] == "==" and n[2] is None:
            out[".".join(n[1]).lower()] = n[4]
    return out
