"""Streaming CSV downloads.

Invariants:
- The response streams: rows are written one at a time as the client reads, from an iterable
  (pass ``queryset.iterator()``), so no list of every row is ever held in memory.
- No cell can run as a spreadsheet formula: a text cell starting with ``=``, ``+``, ``-``, ``@``
  (or a tab or carriage return, which some spreadsheets skip before reading one) is prefixed
  with ``'``. Numbers are written as they are, so a negative amount stays a number.
- UTF-8 with a byte order mark, so spreadsheet programs read accents and symbols correctly.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence

from django.http import StreamingHttpResponse

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return "" if value is None else value


class _Echo:
    """A pseudo-buffer: ``csv.writer`` writes a row, we hand the text straight back."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_safe(value) for value in row])


def csv_streaming_response(
    *, filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
