"""The interface text is marked for translation: the committed English catalog lists every
marked message, and a translation catalog really changes what pages, messages, plurals and
audit sentences say (a made-up language "xx" stands in for a real one)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from accounts.audit import audit_sentence
from accounts.models import AuditEvent, Role
from portal.invitations import InviteOutcome, summarize

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "connectbooster" / "locale" / "en" / "LC_MESSAGES" / "django.po"
GETTEXT_MISSING = (
    "GNU gettext ({}) is not installed: makemessages and compilemessages need it "
    "(Debian: apt-get install gettext). CI has it; install it and run the tests again."
)


def _require(tool: str) -> str:
    path = shutil.which(tool)
    assert path, GETTEXT_MISSING.format(tool)
    return path


def _msgids(po: Path) -> set[str]:
    """The msgids (and plural msgids) of a .po file, continuation lines joined; not the header."""
    ids, current, keyword = set(), None, None
    for line in po.read_text(encoding="utf-8").splitlines() + [""]:
        match = re.match(r'^(msgid|msgid_plural|msgctxt|msgstr(?:\[\d+\])?) "(.*)"$', line)
        if match or not line.startswith('"'):
            if keyword in {"msgid", "msgid_plural"} and current:
                ids.add(current)
            keyword, current = (match.group(1), match.group(2)) if match else (None, None)
        elif current is not None:
            current += line[1:-1]
    return ids


def test_the_committed_english_catalog_lists_every_marked_message(settings, tmp_path, monkeypatch):
    _require("xgettext")
    settings.LOCALE_PATHS = [tmp_path]
    monkeypatch.chdir(ROOT)
    # The committed catalog's folder is left out: makemessages writes each file's messages to the
    # nearest locale folder it finds, so connectbooster/templates would go there, not to tmp_path.
    call_command("makemessages", locale=["en"], verbosity=0, ignore_patterns=["connectbooster/locale"])
    fresh = _msgids(tmp_path / "en" / "LC_MESSAGES" / "django.po")
    committed = _msgids(CATALOG)
    assert fresh, "makemessages found no marked message at all"
    assert fresh == committed, (
        "connectbooster/locale/en/LC_MESSAGES/django.po is out of date; run "
        "`python manage.py makemessages -l en` and commit it. "
        f"Missing: {sorted(fresh - committed)[:10]}; no longer in the code: {sorted(committed - fresh)[:10]}"
    )


TEST_CATALOG = r"""
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

msgid "E-mail"
msgstr "Xmail"

msgid "That e-mail address and password do not match an active account."
msgstr "Xno match."

msgid "Nothing was sent. %(problems)s"
msgstr "Xnothing sent: %(problems)s"

msgid "Master Admin"
msgstr "Xmaster"

msgid "%(count)d invitation queued."
msgid_plural "%(count)d invitations queued."
msgstr[0] "X%(count)d one invitation."
msgstr[1] "X%(count)d many invitations."

msgid "%(who)s signed in%(from)s"
msgstr "X%(who)s in%(from)s"

msgid " from %(address)s"
msgstr " Xfrom %(address)s"
"""


@pytest.fixture
def language_xx(settings, tmp_path):
    """A catalog for "xx", compiled with msgfmt, and "xx" among the offered languages."""
    msgfmt = _require("msgfmt")
    folder = tmp_path / "xx" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "django.po").write_text(TEST_CATALOG, encoding="utf-8")
    subprocess.run([msgfmt, "-o", str(folder / "django.mo"), str(folder / "django.po")], check=True)
    settings.LANGUAGES = [*django_settings.LANGUAGES, ("xx", "Test language")]
    settings.LOCALE_PATHS = [tmp_path]
    return "xx"


@pytest.mark.django_db
def test_the_sign_in_page_and_its_error_speak_the_browsers_language(client, language_xx):
    page = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="xx")
    assert page["Content-Language"] == "xx"
    assert "Xmail" in page.content.decode()
    refused = client.post(
        reverse("accounts:login"), {"username": "nobody@example.com", "password": "wrong"}, HTTP_ACCEPT_LANGUAGE="xx"
    )
    assert "Xno match." in refused.content.decode()
    # Without the header: English, the source text.
    english = client.get(reverse("accounts:login")).content.decode()
    assert "Xmail" not in english and "E-mail" in english


@pytest.mark.django_db
def test_a_staff_message_is_translated_with_its_form_label(admin_client, language_xx):
    page = admin_client.post(
        reverse("accounts:user-invite"),
        {"email": "not an address", "role": "billing_staff"},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="xx",
    )
    assert "Xnothing sent: Xmail:" in page.content.decode()


def test_choices_plurals_and_audit_sentences_are_translated(language_xx):
    queued = [InviteOutcome(None, "invited", "")]
    with translation.override("xx"):
        assert str(Role.MASTER_ADMIN.label) == "Xmaster"
        assert summarize(queued) == "X1 one invitation."
        assert summarize(queued * 3) == "X3 many invitations."
        event = AuditEvent(action="accounts.signin", actor_email="anna@msp.example", details={"address": "10.0.0.1"})
        assert audit_sentence(event) == "Xanna@msp.example in Xfrom 10.0.0.1"
    assert summarize(queued * 3) == "3 invitations queued."
    assert str(Role.MASTER_ADMIN.label) == "Master Admin"
