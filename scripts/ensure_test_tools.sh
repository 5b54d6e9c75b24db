#!/usr/bin/env bash
# What the suite needs beyond the virtual environment: a Chromium for the browser tests and
# GNU gettext for the translation-catalog test. Use the system's, install Debian's where we
# can (Chromium: else Playwright's own download); stop with a clear message when one is missing.
set -euo pipefail
has_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
has_gettext() { command -v xgettext >/dev/null 2>&1 && command -v msgfmt >/dev/null 2>&1; }
can_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }

missing=()
has_chromium || missing+=(chromium)
has_gettext || missing+=(gettext)
if [ ${#missing[@]} -gt 0 ] && can_apt; then
  echo "Installing Debian's ${missing[*]} for the tests..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || true
fi
if ! has_gettext; then
  echo "ERROR: GNU gettext (xgettext, msgfmt) is missing; the translation tests need it." >&2
  echo "Install it (Debian: 'apt-get install gettext') and run 'make test' again." >&2
  exit 1
fi
if has_chromium || .venv/bin/playwright install chromium; then exit 0; fi
echo "ERROR: no Chromium for the browser tests. Install it (Debian: 'apt-get install chromium'," >&2
echo "or run '.venv/bin/playwright install chromium') and run 'make test' again." >&2
exit 1
