"""The content security policy: every page carries it, and no template needs more than it allows
(no inline script, no inline event handler, no javascript: URL)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from core.csp import policy_header
from tests.accounts.test_access_matrix import EXPECTED, _signed_in
from tests.roles import PUBLIC

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [Path(d) for d in settings.TEMPLATES[0]["DIRS"]] + sorted(
    p for p in ROOT.glob("*/templates") if ".venv" not in p.parts
)
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[a-zA-Z][^>]*?\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.IGNORECASE)
SCRIPT_URL = re.compile(r"javascript:", re.IGNORECASE)


def _templates():
    files = sorted({path for d in TEMPLATE_DIRS for path in d.rglob("*.html")})
    assert files, "no templates found"
    return files


def test_the_policy_allows_scripts_only_from_the_portal_and_stripe_js():
    header = policy_header(settings.SECURE_CSP)
    script_src = next(d for d in header.split("; ") if d.startswith("script-src ")).split()[1:]
    stripe_js = settings.STRIPE_JS_URL.split("/")[:3]
    assert script_src == ["'self'", "/".join(stripe_js)]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "report-uri" not in header and "report-to" not in header


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_an_inline_script(path):
    html = path.read_text()
    assert not INLINE_SCRIPT.search(html), "move the script into static/js/ and load it with src="
    assert not EVENT_HANDLER.search(html), "bind the handler in a static/js/ file (addEventListener)"
    assert not SCRIPT_URL.search(html)


def test_the_scan_finds_what_it_looks_for():
    assert INLINE_SCRIPT.search("<p>x</p><script>alert(1)</script>")
    assert INLINE_SCRIPT.search('<script type="module">x</script>')
    assert not INLINE_SCRIPT.search("<script src=\"{% static 'js/a.js' %}\"></script>")
    assert EVENT_HANDLER.search('<button class="btn" onclick="go()">')
    assert EVENT_HANDLER.search('<form hx-on::after-request="this.reset()">')
    assert not EVENT_HANDLER.search("<p>Paid on 1 May; online=yes</p>")


GET_PAGES = sorted(name for name, (_, method, *_data) in EXPECTED.items() if method == "get")


@pytest.mark.parametrize("name", GET_PAGES)
def test_every_page_carries_the_policy(db, name):
    kwargs, _, allowed, *_data = EXPECTED[name]
    role = None if allowed == PUBLIC else sorted(allowed)[0]
    user = _signed_in(role)  # a client contact with an organization, as the access matrix signs in
    web = Client()
    if user is not None:
        web.force_login(user)
    response = web.get(reverse(name, kwargs=kwargs(user) if callable(kwargs) else kwargs))
    if response.get("Content-Type", "").startswith("application/pdf"):
        assert "Content-Security-Policy" not in response  # core.csp: Chrome's PDF viewer
    else:
        assert response["Content-Security-Policy"] == policy_header(settings.SECURE_CSP)


def test_the_stripe_sources_follow_the_settings_as_they_are(db, settings):
    settings.STRIPE_JS_URL = "http://127.0.0.1:8420/js.stripe.com/v3/"
    settings.STRIPE_API_BASE = "http://127.0.0.1:8420"
    header = Client().get(reverse("accounts:login"))["Content-Security-Policy"]
    assert "script-src 'self' http://127.0.0.1:8420;" in header
    assert "connect-src 'self' http://127.0.0.1:8420;" in header


def test_error_pages_and_static_files_carry_the_policy(db):
    web = Client()
    assert "script-src" in web.get("/no-such-page/")["Content-Security-Policy"]
    assert "script-src" in web.get("/static/css/portal.css")["Content-Security-Policy"]
