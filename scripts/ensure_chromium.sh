#!/usr/bin/env bash
# Browser tests need a Chromium. Use the system one, install Debian's where we can,
# else Playwright's own download; stop with a clear message when none can be had.
set -euo pipefail
found() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
if found; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  found && exit 0
fi
if .venv/bin/playwright install chromium; then exit 0; fi
echo "ERROR: no Chromium for the browser tests. Install it (Debian: 'apt-get install chromium'," >&2
echo "or run '.venv/bin/playwright install chromium') and run 'make test' again." >&2
exit 1
