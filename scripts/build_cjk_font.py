"""Build billing/fonts/NotoSansCJKjp-Regular-JIS2004.ttf, the Japanese fallback font of the
portal's PDFs, from Noto Sans CJK (Debian's ``fonts-noto-cjk``, ``NotoSansCJK-Regular.ttc``).

Two steps, both with fontTools (a dependency of fpdf2):
1. Keep face 0 (Noto Sans CJK JP) and only the characters of JIS X 0213:2004 (kana, the kanji
   of Japanese names, symbols) and the full-width forms: 3 MB instead of 16 MB.
2. Convert its CFF outlines to TrueType ones: fpdf2 embeds a CID-keyed CFF font with an
   encoding CMap that text extraction (pypdf, copy and paste in some viewers) does not read,
   while a TrueType font gets Identity-H like DejaVu Sans and extracts as written.

The output is the same bytes on every run (no timestamps): docs/versions.md records its checksum.

Usage: ``python scripts/build_cjk_font.py /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc``
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

TARGET = Path(__file__).resolve().parent.parent / "billing" / "fonts" / "NotoSansCJKjp-Regular-JIS2004.ttf"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collection", type=Path, help="NotoSansCJK-Regular.ttc")
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args()
    font = subset_japanese(args.collection)
    to_truetype(font)
    font.save(str(args.output))
    print(f"{args.output}: {len(font.getBestCmap())} characters, {args.output.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
