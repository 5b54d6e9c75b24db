"""The portal's own PDF documents (fpdf2: pure Python, no system packages): the fonts shipped in
``billing/fonts/`` and the parts the invoice (billing.rendering) and the payment receipt
(payments.receipts) are built from, so both look alike and print every name as written.

DejaVu Sans (regular and bold), cut to Latin, Greek, Cyrillic, Armenian, Georgian, "€" and the
common symbols, and Noto Sans CJK JP, cut to JIS X 0213, the fallback for Japanese: both built
by scripts/build_fonts.py. Each file is parsed once per process (``parsed_font``); fpdf2 embeds
only the glyphs a document uses. Versions and licences: docs/versions.md.
"""

from __future__ import annotations

import copy
import functools
import unicodedata
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from decimal import Decimal
from io import BytesIO
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.formats import date_format
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace, SubsetMap, TTFFont

from integrations.templatetags.portal import day, money

FONTS = Path(__file__).resolve().parent / "fonts"
FAMILY = "portal-sans"
FAMILY_FILES = {"": "DejaVuSans-Billing.ttf", "B": "DejaVuSans-Bold-Billing.ttf"}
FALLBACK = "portal-cjk"
FALLBACK_FILE = "NotoSansCJKjp-Regular-JIS2004.ttf"

INK = (33, 37, 41)
MUTED = 90
FAINT = 120
ROW_HEIGHT = 5.5
# Lines of text per table row: a row taller than a page makes fpdf2 raise.
ROW_LINES = 30


@functools.cache
def parsed_font(family: str, style: str, filename: str) -> tuple[TTFFont, bytes]:
    """One of billing/fonts/ as fpdf2's ``add_font`` parses it, and the file's bytes: parsed once
    per process (the slow part of a PDF), then copied into each document (``add_shipped_font``)."""
    parser = FPDF()
    parser.add_font(family, style, FONTS / filename)
    template = parser.fonts[f"{family.lower()}{style}"]
    template.close()
    template.ttfont = None  # each document opens its own (output subsets it in place)
    return template, (FONTS / filename).read_bytes()


def text(value: object) -> str:
    """A value as the PDF prints it (composed Unicode: "e" and a combining accent become "é")."""
    return unicodedata.normalize("NFC", str(value or ""))


def amount(value: Decimal | None, currency: str = "") -> str:
    """An amount the portal's one way (the ``money`` filter of the pages: the tenant's culture,
    in ``currency``, else the tenant's); none reads as zero."""
    return money(value or Decimal("0"), currency)


def day_of(value) -> str:
    """A date-time as its day in the portal's time zone, the pages' way; none reads "-"."""
    return day(timezone.localtime(value)) if value else "-"


def moment_of(value) -> str:
    """A date-time to the minute in the portal's time zone (as the receipt page shows it)."""
    return date_format(timezone.localtime(value), "Y-m-d H:i") if value else "-"


class PortalPdf(FPDF):
    """A Letter page with the MSP's name on top and "<MSP> - <footer> - page n of m" below."""

    def __init__(self, *, title: str, footer: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="Letter")
        self.msp_name = text(settings.MSP_NAME)
        self.footer_text = text(footer)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)
        self.set_title(text(title))
        self.set_author(self.msp_name)
        self.set_creator(f"{self.msp_name} billing portal")
        for style, filename in FAMILY_FILES.items():
            self.add_shipped_font(FAMILY, style, filename)
        self._fallback_added = False
        self.set_font(FAMILY, size=10)
        self.set_text_color(*INK)

    def add_shipped_font(self, family: str, style: str, filename: str) -> None:
        """``add_font(family, style, FONTS / filename)`` without parsing the file again.

        fpdf2 2.8.9 has no public way to reuse a parsed font, so this copies its TTFFont and
        renews what a document changes in it (TTFFont.__init__ and output._add_fonts): its
        number, the fontTools font the output subsets and closes, the widths (a defaultdict:
        reading a character it lacks adds it), the descriptor the output names and numbers,
        the subset of glyphs used. The rest (character map, glyph ids, metrics) is read only.
        tests/billing/test_pdf_fonts.py checks the PDF is the one ``add_font`` makes, byte for byte,
        and fails when fpdf2's TTFFont gains or loses an attribute.
        """
        template, data = parsed_font(family, style, filename)
        font = copy.copy(template)
        font.i = len(self.fonts) + 1
        font.ttfont = TTFont(BytesIO(data), recalcTimestamp=False, lazy=True)
        font.cw = copy.copy(template.cw)
        font.desc = copy.copy(template.desc)
        font.subset = SubsetMap(font)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        self.fonts[font.fontkey] = font

    def normalize_text(self, txt: str) -> str:
        # fpdf2 passes every text through here before laying it out. The Japanese font (4 MB to
        # parse) is added on the first text the main font lacks a glyph for, not to every PDF.
        if not self._fallback_added and self.is_ttf_font:
            glyphs = self.current_font.cmap
            if any(ord(char) not in glyphs for char in txt if char not in "\r\n"):
                self.add_shipped_font(FALLBACK, "", FALLBACK_FILE)
                self.set_fallback_fonts([FALLBACK], exact_match=False)  # bold falls back to regular
                self._fallback_added = True
        return super().normalize_text(txt)

    def _render_styled_text_line(self, *args, **kwargs):
        # fpdf2 2.8.9: when a line starts in the fallback font and the current font is not yet
        # set on the page, it sets the current font inside the line's q...Q (undone at Q) yet
        # marks it set, so the next line is drawn in whatever font the page had before (the
        # table's bold headings): wrong glyphs. Setting it on the page first, outside, as
        # fpdf2's own text() does, keeps the page and fpdf2 in agreement.
        if self._fallback_added and self.page and not self.current_font_is_set_on_page:
            self._out(self._set_font_for_page(self.current_font, self.font_size_pt))
        return super()._render_styled_text_line(*args, **kwargs)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FAMILY, size=8)
        self.set_text_color(FAINT)
        self.cell(0, 5, f"{self.msp_name} - {self.footer_text} - page {self.page_no()} of {{nb}}", align="C")

    # --- building blocks, top to bottom ---------------------------------------------------------

    def masthead(self, kind: str, number: str) -> None:
        """A dark band, the MSP's name on the left, ``kind`` (INVOICE, RECEIPT) and its number right."""
        self.add_page()
        width = self.epw
        self.set_fill_color(*INK)
        self.rect(0, 0, self.w, 6, style="F")
        self.set_fill_color(255, 255, 255)  # what the tables' unshaded rows are filled with
        self.set_font(FAMILY, "B", 20)
        self.set_text_color(*INK)
        self.cell(width * 0.6, 10, self.msp_name, new_x=XPos.RIGHT, new_y=YPos.TOP)
        self.set_font(FAMILY, "B", 16)
        self.cell(width * 0.4, 10, kind, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FAMILY, size=10)
        self.set_text_color(MUTED)
        self.cell(width * 0.6, 6, "Billing portal", new_x=XPos.RIGHT, new_y=YPos.TOP)
        self.set_text_color(*INK)
        self.set_font(FAMILY, "B", 12)
        self.cell(width * 0.4, 6, f"No. {text(number)}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(6)

    def party_and_facts(self, heading: str, party: Iterable[str], facts: Sequence[tuple[str, str]]) -> None:
        """Who (BILL TO, RECEIVED FROM) on the left, the document's facts as label: value right."""
        width = self.epw
        top = self.get_y()
        self.set_font(FAMILY, "B", 9)
        self.set_text_color(MUTED)
        self.cell(width * 0.55, 5, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        self.set_font(FAMILY, size=10)
        for line in list(party) or ["-"]:
            self.multi_cell(width * 0.55 - 2, 5, text(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        left_bottom = self.get_y()
        self.set_y(top)
        for label, value in facts:
            self.set_x(self.l_margin + width * 0.55)
            self.set_font(FAMILY, "B", 10)
            self.cell(width * 0.2, 5, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
            self.set_font(FAMILY, size=10)
            self.multi_cell(width * 0.25, 5, text(value), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_y(max(left_bottom, self.get_y()) + 8)

    @contextmanager
    def house_table(self, headings: Sequence[str], col_widths: Sequence[int], text_align: Sequence[str]):
        """A table with dark headings and shaded even rows; yields fpdf2's table to add rows to."""
        self.set_font(FAMILY, size=9)
        self.set_draw_color(200)
        self.set_text_color(*INK)
        with self.table(
            cell_fill_color=(244, 245, 247),
            cell_fill_mode="EVEN_ROWS",
            col_widths=tuple(col_widths),
            text_align=tuple(text_align),
            headings_style=FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=INK),
            line_height=ROW_HEIGHT,
            borders_layout="HORIZONTAL_LINES",
            first_row_as_headings=True,
        ) as table:
            table.row(tuple(headings))
            yield table
        self.ln(4)

    def row_chunks(self, value: str, width: float) -> list[str]:
        """``value`` as it wraps in a cell ``width`` wide, in pieces of at most ROW_LINES lines
        (a row must fit on one page: a long text continues in rows of its own)."""
        lines = self.multi_cell(width - 2 * self.c_margin, ROW_HEIGHT, value, dry_run=True, output="LINES")
        if len(lines) <= ROW_LINES:
            return [value]
        return ["\n".join(lines[start : start + ROW_LINES]) for start in range(0, len(lines), ROW_LINES)]

    def totals(self, rows: Sequence[tuple[str, str]], *, bold: Iterable[str] = ()) -> None:
        """Label and amount pairs, right-aligned under the table; ``bold`` labels stand out."""
        width = self.epw
        emphasised = set(bold)
        for label, value in rows:
            strong = label in emphasised
            self.set_x(self.l_margin + width * 0.55)
            self.set_font(FAMILY, "B" if strong else "", 11 if strong else 10)
            self.cell(width * 0.2, 6.5, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
            self.cell(width * 0.25, 6.5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def section(self, heading: str, body: str) -> None:
        """A small heading and a paragraph (the invoice's notes)."""
        self.ln(6)
        self.set_font(FAMILY, "B", 9)
        self.cell(0, 5, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FAMILY, size=9)
        self.multi_cell(0, 4.5, text(body), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def closing(self, body: str) -> None:
        """The fine print at the end: where the document came from."""
        self.ln(8)
        self.set_font(FAMILY, size=8)
        self.set_text_color(FAINT)
        self.multi_cell(0, 4, text(body))
        self.set_text_color(*INK)

    def to_bytes(self) -> bytes:
        return bytes(self.output())


def pdf_response(content: bytes, filename: str, *, as_attachment: bool) -> HttpResponse:
    """A portal PDF as the browser gets it: shown inline or downloaded, never cached by others."""
    response = HttpResponse(content, content_type="application/pdf")
    disposition = "attachment" if as_attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
