"""Every piece of interface text in the portal's templates is marked for translation.

The scan walks each template with Django's own Lexer, follows whether it is inside an
HTML tag or in text, and reports (file:line) any text with letters that is not inside
{% translate %} / {% blocktranslate %}, and any plain title/aria-label/placeholder/alt
attribute with letters. Text in <code>/<kbd> (identifiers, commands) is not interface text.
"""

import re
from pathlib import Path

from django.template.base import Lexer, TokenType

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "connectbooster" / "templates"

# Text that is deliberately the same in every language: product and brand names, units.
ALLOWED_TEXT = {
    "ConnectBooster",
    "Kaseya BMS",
    "Stripe",
    "Xero",
    "PDF",
    "CSV",
    "ACH",
    "BMS",
    "API",
    "URL",
    "ID",
}

TRANSLATED_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
ENTITY = re.compile(r"&#?\w+;")
LETTER = re.compile(r"[^\W\d_]")
TAG_START = re.compile(r"<[A-Za-z/!]")
ATTRIBUTE = re.compile(r"\s(" + "|".join(TRANSLATED_ATTRIBUTES) + r')="([^"]*)"')
VARIABLE = re.compile(r"{{.*?}}")
LITERAL_DEFAULT = re.compile(r"""\|default:(["'])([^"']*[^\W\d_][^"']*)\1""")
# |default: literals that are markup values, not text: a Bootstrap alert class.
NON_TEXT_DEFAULTS = {"info"}
NON_TEXT_ELEMENTS = ("code", "kbd", "script", "style")
# Template blocks that hold markup values (CSS classes), not text.
NON_TEXT_BLOCKS = {"body_class"}


def has_words(text):
    text = re.sub(r"^\W+|\W+$", "", ENTITY.sub(" ", text))
    return bool(LETTER.search(text)) and text not in ALLOWED_TEXT


def iter_runs(source):
    """Yield (line, pieces) for each run of text outside HTML tags and translation blocks.

    A run is a list of ("text", str) / ("var", token) pieces between two HTML tags or
    template tags; its text pieces are what a reader sees around the variables.
    """
    in_tag = False
    quote = None
    tag_buffer = ""
    skip_element = None
    translating = False
    blocks = []
    run, run_line = [], None

    def flush():
        nonlocal run, run_line
        if run:
            yield run_line, run
        run, run_line = [], None

    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            bits = token.split_contents()
            name = bits[0]
            if name == "block":
                blocks.append(bits[1])
            elif name == "endblock":
                blocks.pop()
            elif name in ("blocktranslate", "blocktrans"):
                translating = True
            elif name in ("endblocktranslate", "endblocktrans"):
                translating = False
            if not in_tag:
                yield from flush()
            continue
        if token.token_type == TokenType.COMMENT:
            continue
        if token.token_type == TokenType.VAR:
            if not in_tag and not translating and skip_element is None:
                run_line = run_line or token.lineno
                run.append(("var", token))
            continue
        line = token.lineno
        text = token.contents
        position = 0
        while position < len(text):
            if in_tag:
                char = text[position]
                tag_buffer += char
                if quote:
                    if char == quote:
                        quote = None
                elif char in "\"'":
                    quote = char
                elif char == ">":
                    in_tag = False
                    element = re.match(r"<(/?)([A-Za-z0-9]+)", tag_buffer)
                    if element:
                        closing, name = element.group(1), element.group(2).lower()
                        if name in NON_TEXT_ELEMENTS:
                            skip_element = None if closing else name
                position += 1
                continue
            next_tag = TAG_START.search(text, position)
            end = next_tag.start() if next_tag else len(text)
            chunk = text[position:end]
            if chunk and not translating and skip_element is None and not NON_TEXT_BLOCKS.intersection(blocks):
                run_line = run_line or line + text.count("\n", 0, position)
                run.append(("text", chunk))
            if next_tag:
                yield from flush()
                in_tag = True
                tag_buffer = ""
            position = end
    yield from flush()


def untranslated(source):
    """(line, text) for every piece of interface text not marked for translation."""
    found = []
    for line, run in iter_runs(source):
        text = "".join(piece for kind, piece in run if kind == "text")
        if has_words(text):
            shown = "".join(piece if kind == "text" else "{{ " + piece.contents + " }}" for kind, piece in run)
            found.append((line, " ".join(shown.split())))
    for number, text_line in enumerate(source.splitlines(), start=1):
        for match in ATTRIBUTE.finditer(text_line):
            if "{%" not in match.group(2) and has_words(VARIABLE.sub(" ", match.group(2))):
                found.append((number, f'{match.group(1)}="{match.group(2)}"'))
    for number, text_line in enumerate(source.splitlines(), start=1):
        for match in LITERAL_DEFAULT.finditer(text_line):
            if match.group(2) not in NON_TEXT_DEFAULTS:
                found.append((number, f'{match.group(0)}, use default:_("…")'))
    return found


def portal_templates():
    return sorted(path for path in TEMPLATES_DIR.rglob("*") if path.suffix in (".html", ".txt"))


def test_every_portal_template_marks_its_text_for_translation():
    problems = [
        f"{path.relative_to(TEMPLATES_DIR)}:{line}: {text}"
        for path in portal_templates()
        for line, text in untranslated(path.read_text())
    ]
    assert not problems, "Text not marked for translation:\n" + "\n".join(problems)


def test_the_scan_finds_untranslated_text_and_accepts_translated_text():
    sample = (
        '{% load i18n %}<h1 title="Your invoices">Invoices</h1>\n'
        "<p>Due {{ invoice.due_date }}</p><p>{{ note|default:_('None') }}</p>\n"
        '<p>{% translate "Paid" %} <span aria-label="{% translate \'Balance\' %}">{{ balance }}</span></p>\n'
        "{% blocktranslate with number=invoice.number %}Invoice {{ number }}{% endblocktranslate %}\n"
        "<code>STRIPE_SECRET_KEY</code> &nbsp;&middot; {{ amount }} <b>Kaseya BMS</b>\n"
        '{% block body_class %}bg-body-tertiary{% endblock %}{{ reason|default:"none given" }}'
    )
    assert untranslated(sample) == [
        (1, "Invoices"),
        (2, "Due {{ invoice.due_date }}"),
        (1, 'title="Your invoices"'),
        (6, '|default:"none given", use default:_("…")'),
    ]


def test_every_template_that_translates_loads_i18n():
    missing = [
        str(path.relative_to(TEMPLATES_DIR))
        for path in portal_templates()
        if re.search(r"{%\s*(translate|blocktranslate)\b", text := path.read_text())
        and not re.search(r"{%\s*load\b[^%]*\bi18n\b", text)
    ]
    assert not missing, "Templates using translate without {% load i18n %}: " + ", ".join(missing)
