"""Issue 14 item 18: every image the README shows from docs/screenshots/ is written by a
browser test (``screenshot(..., readme="<name>")``), and every such test writes an image
the README shows, so the README's screenshots are those of the last browser test run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_each_readme_screenshot_is_written_by_a_browser_test():
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"\(docs/screenshots/([\w-]+)\.png\)", readme))
    written = set()
    for test_file in (ROOT / "tests" / "browser").glob("test_*.py"):
        written |= set(re.findall(r'readme="([\w-]+)"', test_file.read_text()))
    assert shown, "the README shows no screenshots"
    assert shown - written == set(), "README images no browser test writes"
    assert written - shown == set(), "screenshots written for the README that it does not show"
    on_disk = {path.stem for path in (ROOT / "docs" / "screenshots").glob("*.png")}
    assert shown <= on_disk
