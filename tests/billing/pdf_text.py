"""What a portal PDF shows, read two ways: pypdf's text extraction, and the text as a viewer
draws it (each string decoded with the font in effect where it is drawn, honouring q/Q, which
restore the font: pypdf's extraction does not, so a string drawn in the wrong font, wrong
glyphs on paper, would still extract as written)."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from pypdf.generic import ContentStream

_BFCHAR = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")


def read(content: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(content))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def _to_unicode(font) -> dict[int, str]:
    """The font's ToUnicode map: 2-byte code -> text (fpdf2 writes bfchar entries only)."""
    data = font["/ToUnicode"].get_object().get_data()
    mapping = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for code, text in _BFCHAR.findall(block):
            mapping[int(code, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")
    return mapping


def _raw(operand) -> bytes:
    return getattr(operand, "original_bytes", None) or bytes(operand)


def shown_text(content: bytes) -> str:
    """The text as drawn: one line per text object, each string in the font then in effect."""
    reader = PdfReader(io.BytesIO(content))
    lines = []
    for page in reader.pages:
        maps = {name: _to_unicode(font.get_object()) for name, font in page["/Resources"]["/Font"].items()}
        font, saved, line = None, [], []
        for operands, operator in ContentStream(page.get_contents(), reader).operations:
            if operator == b"q":
                saved.append(font)
            elif operator == b"Q":
                font = saved.pop()
            elif operator == b"Tf":
                font = operands[0]
            elif operator in (b"Tj", b"TJ"):
                strings = [operands[0]] if operator == b"Tj" else [s for s in operands[0] if hasattr(s, "__len__")]
                for string in strings:
                    raw = _raw(string)
                    codes = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
                    line.append("".join(maps[font].get(code, "\ufffd") for code in codes))
            elif operator == b"ET" and line:
                lines.append("".join(line))
                line = []
    return "\n".join(lines)


def embedded_fonts(reader: PdfReader) -> dict[str, list[str]]:
    """Each font of the document (its base name) and the font files embedded for it."""
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
            fonts[str(font["/BaseFont"]).split("+")[-1]] = [key for key in descriptor if key.startswith("/FontFile")]
    return fonts
