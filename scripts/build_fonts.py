"""Build the fonts of the portal's PDFs in billing/fonts/ from their upstream files, the same
bytes on every run (no timestamps; docs/versions.md records the checksums). Both with fontTools
(a dependency of fpdf2).

``dejavu``: DejaVu Sans, regular and bold (Debian's ``fonts-dejavu-core``), cut to the scripts a
billing document needs (Latin, Greek, Cyrillic, Armenian, Georgian, punctuation, currency and
common symbols: ``DEJAVU_RANGES``), about 2,300 of its 6,250 glyphs. fpdf2 parses the whole font
for every document it is added to and subsets it again on output, so the glyphs left out cost
time on every PDF. Also left out: the layout and kerning tables (fpdf2 does not shape these
texts) and the TrueType hinting instructions.

``cjk``: Noto Sans CJK JP (Debian's ``fonts-noto-cjk``, ``NotoSansCJK-Regular.ttc``), the
Japanese fallback, in two steps:
1. Keep face 0 (Noto Sans CJK JP) and only the characters of JIS X 0213:2004 (kana, the kanji
   of Japanese names, symbols) and the full-width forms: 3 MB instead of 16 MB.
2. Convert its CFF outlines to TrueType ones: fpdf2 embeds a CID-keyed CFF font with an
   encoding CMap that text extraction (pypdf, copy and paste in some viewers) does not read,
   while a TrueType font gets Identity-H like DejaVu Sans and extracts as written.

Usage::

    python scripts/build_fonts.py dejavu /usr/share/fonts/truetype/dejavu
    python scripts/build_fonts.py cjk /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

FONTS = Path(__file__).resolve().parent.parent / "billing" / "fonts"

# DejaVu Sans file -> the cut shipped in billing/fonts/ (billing.pdf.FAMILY_FILES).
DEJAVU_FILES = {"DejaVuSans.ttf": "DejaVuSans-Billing.ttf", "DejaVuSans-Bold.ttf": "DejaVuSans-Bold-Billing.ttf"}
# The Unicode blocks kept, whatever of them DejaVu Sans has. Left out: right-to-left scripts
# (Hebrew, Arabic: unreadable without the shaping the PDFs do not do), polytonic Greek, IPA,
# medieval Latin, box drawing, braille, technical symbols and most dingbats.
DEJAVU_RANGES = [
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x024F),  # Latin-1 Supplement, Latin Extended-A and -B
    (0x02B0, 0x02FF),  # spacing modifier letters (ʻ ʼ ˇ ˘ ˝ ...)
    (0x0300, 0x036F),  # combining diacritical marks (a letter and accent NFC cannot compose)
    (0x0370, 0x03FF),  # Greek and Coptic
    (0x0400, 0x052F),  # Cyrillic and Cyrillic Supplement
    (0x0530, 0x058F),  # Armenian
    (0x10A0, 0x10FF),  # Georgian
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese)
    (0x2000, 0x206F),  # general punctuation (– — ‘ ’ “ ” • … ‰)
    (0x2070, 0x209F),  # superscripts and subscripts
    (0x20A0, 0x20CF),  # currency symbols (€ ₹ ₽ ₺ ₴ ...)
    (0x2100, 0x214F),  # letterlike symbols (№ ™ ℃)
    (0x2150, 0x218F),  # number forms (½ ⅓ Ⅻ)
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators (− ≤ ≈ ∞)
    (0x25A0, 0x25FF),  # geometric shapes (■ ● ◆)
    (0x2605, 0x2606),  # ★ ☆
    (0x260E, 0x260E),  # ☎
    (0x2709, 0x2709),  # ✉
    (0x2713, 0x2718),  # ✓ ✔ ✕ ✖ ✗ ✘
    (0xFB00, 0xFB06),  # Latin ligatures (ﬁ ﬂ, as pasted from other PDFs)
    (0xFFFD, 0xFFFD),  # replacement character
]

JAPANESE_FACE = 0  # of the collection: Noto Sans CJK JP
# CJK symbols and punctuation, kana, kana extensions, half- and full-width forms.
EXTRA_RANGES = [(0x3000, 0x30FF), (0x31F0, 0x31FF), (0xFF00, 0xFFEF)]
# How far a quadratic curve may stray from the cubic one, in font units (1000 per em):
# a hundredth of a point at 10 pt.
MAX_CURVE_ERROR = 1.0


def jis_x_0213() -> set[int]:
    """Every code point of JIS X 0213:2004, both planes (Python's EUC-JIS-2004 codec)."""
    code_points: set[int] = set()
    for plane in (b"", b"\x8f"):
        for first in range(0xA1, 0xFF):
            for second in range(0xA1, 0xFF):
                try:
                    decoded = (plane + bytes([first, second])).decode("euc_jis_2004")
                except UnicodeDecodeError:
                    continue
                code_points.update(ord(char) for char in decoded)
    return code_points


def subset_dejavu(source: Path) -> TTFont:
    font = TTFont(str(source), recalcTimestamp=False)
    options = subset.Options()
    options.layout_features = []  # fpdf2 does not shape these texts: no GSUB/GPOS needed
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "MATH", "FFTM"]
    options.glyph_names = True  # fontTools reads them faster than it derives them from the cmap
    options.legacy_kern = False  # the "kern" table: fpdf2 does not kern
    options.hinting = False  # 3 ms less per PDF; viewers hint outlines on their own
    options.name_IDs = ["*"]  # the licence (ID 13) and names stay as they are
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.recalc_timestamp = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[code for low, high in DEJAVU_RANGES for code in range(low, high + 1)])
    subsetter.subset(font)
    return font


def build_dejavu(directory: Path) -> list[Path]:
    built = []
    for source, target in DEJAVU_FILES.items():
        font = subset_dejavu(directory / source)
        font.save(str(FONTS / target))
        built.append(FONTS / target)
    return built


def subset_japanese(collection: Path) -> TTFont:
    font = TTCollection(str(collection), recalcTimestamp=False).fonts[JAPANESE_FACE]
    options = subset.Options()
    options.layout_features = []  # fpdf2 does not shape these texts: no GSUB/GPOS needed
    options.hinting = False
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx"]
    subsetter = subset.Subsetter(options)
    extra = {code for low, high in EXTRA_RANGES for code in range(low, high + 1)}
    subsetter.populate(unicodes=jis_x_0213() | extra)
    subsetter.subset(font)
    return font


def to_truetype(font: TTFont) -> None:
    """Replace the CFF outlines by TrueType ones, in place (after fontTools' otf2ttf snippet)."""
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, MAX_CURVE_ERROR, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    del font["CFF "]
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for field in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    font["head"].glyphDataFormat = 0
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font.sfntVersion = "\x00\x01\x00\x00"


def build_cjk(collection: Path) -> list[Path]:
    font = subset_japanese(collection)
    to_truetype(font)
    target = FONTS / "NotoSansCJKjp-Regular-JIS2004.ttf"
    font.save(str(target))
    return [target]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="font", required=True)
    commands.add_parser("dejavu", help="DejaVu Sans, cut").add_argument(
        "source", type=Path, help="the directory of DejaVuSans.ttf and DejaVuSans-Bold.ttf"
    )
    commands.add_parser("cjk", help="Noto Sans CJK JP, cut and converted").add_argument(
        "source", type=Path, help="NotoSansCJK-Regular.ttc"
    )
    args = parser.parse_args()
    built = build_dejavu(args.source) if args.font == "dejavu" else build_cjk(args.source)
    for path in built:
        font = TTFont(str(path), lazy=True)
        glyphs = font["maxp"].numGlyphs
        print(f"{path}: {len(font.getBestCmap())} characters, {glyphs} glyphs, {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
