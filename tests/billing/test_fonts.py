"""docs/versions.md lists every file of billing/fonts/ (the PDFs' fonts and their licences) with
its size and checksum, so the page cannot drift from what ships."""

import hashlib
import re
from pathlib import Path

from billing.pdf import FALLBACK_FILE, FAMILY_FILES, FONTS

DOC = Path(__file__).resolve().parents[2] / "docs" / "versions.md"


def _documented() -> dict[str, dict]:
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and re.fullmatch(r"`[0-9a-f]{64}`", cells[5]):
            rows[cells[0].strip("`")] = {"size": int(cells[4].replace(",", "")), "sha256": cells[5].strip("`")}
    return rows


def test_every_font_file_is_documented_with_its_size_and_checksum():
    shipped = sorted(path.name for path in FONTS.iterdir() if path.is_file())
    documented = _documented()
    assert sorted(documented) == shipped
    for name in shipped:
        content = (FONTS / name).read_bytes()
        assert len(content) == documented[name]["size"], f"update docs/versions.md for {name}"
        assert hashlib.sha256(content).hexdigest() == documented[name]["sha256"], f"update docs/versions.md for {name}"


def test_the_fonts_the_pdfs_use_ship_with_their_licences():
    for name in [*FAMILY_FILES.values(), FALLBACK_FILE, "LICENSE-DejaVu.txt", "OFL-NotoSansCJK.txt"]:
        assert (FONTS / name).is_file(), name
    assert "SIL OPEN FONT LICENSE Version 1.1" in (FONTS / "OFL-NotoSansCJK.txt").read_text()
    assert "Bitstream Vera Fonts Copyright" in (FONTS / "LICENSE-DejaVu.txt").read_text()
