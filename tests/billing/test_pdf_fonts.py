"""The PDFs' fonts: parsed once per process and copied into each document (billing.pdf's
``add_shipped_font``, which leans on fpdf2's TTFFont internals), and the cut of DejaVu Sans that
ships (scripts/build_fonts.py)."""

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.fonts import TTFFont

from billing.pdf import FAMILY_FILES, FONTS, PortalPdf

BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_fonts.py"
NAMES = {
    "Polish": "Zażółć gęślą jaźń",
    "Czech": "Příliš žluťoučký kůň",
    "Turkish": "Iğdır Şişli",
    "Vietnamese": "Nguyễn Thị Hương",
    "Greek": "Ελληνικά Ωμέγα",
    "Cyrillic": "Жёлтый Київ Ђорђе",
    "Armenian": "Հայաստան",
    "Georgian": "საქართველო",
    "symbols": "€ £ ¥ ₹ ₽ ₴ ₺ № ™ ½ ⅓ – — “ ” • … → − ≤ ≈ ✓ ★ ☎ ﬁ",
}


class StockFontsPdf(PortalPdf):
    """The same document with each font added by fpdf2's own ``add_font`` (parsed every time)."""

    def add_shipped_font(self, family, style, filename):
        FPDF.add_font(self, family, style, FONTS / filename)


# TTFFont's attributes in fpdf2 2.8.9, which add_shipped_font was written against.
TTFFONT_SLOTS = {
    "i", "type", "name", "desc", "glyph_ids", "_hbfont", "sp", "ss", "up", "ut", "cw", "ttffile", "fontkey",
    "emphasis", "scale", "subset", "cmap", "ttfont", "missing_glyphs", "biggest_size_pt", "color_font",
    "unicode_range", "palette_index", "is_compressed", "is_cff", "is_cid_keyed", "is_symbol", "cff_ros",
    "collection_font_number",
}  # fmt: skip


def test_fpdf2s_font_object_is_the_one_add_shipped_font_copies():
    assert set(TTFFont.__slots__) == TTFFONT_SLOTS, (
        "fpdf2's TTFFont changed: check that billing.pdf.PortalPdf.add_shipped_font renews every "
        "attribute a document changes, then update TTFFONT_SLOTS"
    )


def _document(pdf_class, lines):
    pdf = pdf_class(title="Fonts", footer="Fonts")
    pdf.set_creation_date(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    pdf.masthead("INVOICE", "INV-€-1")
    with pdf.house_table(("Description", "Amount"), (70, 22), ("LEFT", "RIGHT")) as table:
        for line in lines:
            table.row((line, "1.00"))
    return pdf.to_bytes()


def test_a_document_from_the_parsed_fonts_is_the_one_fpdf2s_add_font_makes(settings):
    settings.MSP_NAME = "Łódź IT"
    # A first document uses many glyphs and the Japanese font: nothing of it may carry over.
    _document(PortalPdf, list(NAMES.values()) + ["日本語の名前"])
    for lines in (["Zażółć gęślą jaźń €", "日本語の名前 support"], ["Ελληνικά", "Plain text"]):
        assert _document(PortalPdf, lines) == _document(StockFontsPdf, lines)


def _build_script():
    spec = importlib.util.spec_from_file_location("build_fonts", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cut_of_dejavu_sans_prints_the_scripts_of_names_and_nothing_outside_its_ranges():
    ranges = _build_script().DEJAVU_RANGES
    assert sorted(FAMILY_FILES.values()) == sorted(_build_script().DEJAVU_FILES.values())
    for filename in FAMILY_FILES.values():
        characters = TTFont(FONTS / filename, lazy=True).getBestCmap()
        for script, name in NAMES.items():
            missing = [char for char in name if char != " " and ord(char) not in characters]
            assert not missing, f"{filename} lacks {script}: {missing}"
        outside = [hex(code) for code in characters if not any(low <= code <= high for low, high in ranges)]
        assert not outside
        assert ord("א") not in characters  # Hebrew, left out: the PDFs do not shape right-to-left text
