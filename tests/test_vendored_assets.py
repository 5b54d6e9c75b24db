"""docs/versions.md lists every vendored front-end file with the version its header states
and its checksum, so the page cannot drift from connectbooster/static/vendor/."""

import hashlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "connectbooster" / "static" / "vendor"
DOC = ROOT / "docs" / "versions.md"

# How each kind of file states its version (files not matched here, fonts and licences, state none).
VERSION_IN_FILE = {
    "bootstrap": re.compile(r"Bootstrap\s+v(\d+\.\d+\.\d+)"),
    "bootstrap-icons": re.compile(r"Bootstrap Icons v(\d+\.\d+\.\d+)"),
    "sortablejs": re.compile(r"Sortable (\d+\.\d+\.\d+)"),
    "htmx.org": re.compile(r'version:"(\d+\.\d+\.\d+)"'),
}


def _documented_files() -> dict[str, dict]:
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"`[0-9a-f]{64}`", cells[4]):
            path = cells[0].strip("`")
            rows[path] = {"package": cells[1], "version": cells[2], "sha256": cells[4].strip("`")}
    return rows


def _vendored_files() -> list[str]:
    return sorted(str(path.relative_to(VENDOR)) for path in VENDOR.rglob("*") if path.is_file())


def test_every_vendored_file_is_documented_and_nothing_else():
    assert sorted(_documented_files()) == _vendored_files()


@pytest.mark.parametrize("path", _vendored_files())
def test_the_documented_checksum_and_version_are_the_files(path):
    row = _documented_files()[path]
    content = (VENDOR / path).read_bytes()
    assert hashlib.sha256(content).hexdigest() == row["sha256"], f"update docs/versions.md for {path}"
    pattern = VERSION_IN_FILE[row["package"]]
    if path.endswith((".js", ".css")):
        assert pattern.search(content[:200_000].decode()).group(1) == row["version"]


def test_each_package_has_one_version_and_its_licence():
    files = _documented_files()
    for package in {row["package"] for row in files.values()}:
        versions = {row["version"] for row in files.values() if row["package"] == package}
        assert len(versions) == 1, f"{package}: files of several releases"
        assert any(path.endswith("LICENSE") and row["package"] == package for path, row in files.items())


def test_no_vendored_file_refers_to_a_source_map():
    for path in _vendored_files():
        if path.endswith((".js", ".css")):
            assert b"sourceMappingURL" not in (VENDOR / path).read_bytes(), path


def test_the_axe_core_of_the_browser_tests_is_the_documented_one():
    """axe-core comes inside axe-playwright-python (dev extra), not vendored: docs/versions.md
    names the version the installed package bundles."""
    from axe_playwright_python.base import AXE_SCRIPT

    installed = re.match(r"/\*! axe v(\d+\.\d+\.\d+)", AXE_SCRIPT).group(1)
    row = re.search(r"^\| \[axe-core\].*? \| (\d+\.\d+\.\d+) \| MPL-2\.0 \|", DOC.read_text(), re.M)
    assert row and row.group(1) == installed
