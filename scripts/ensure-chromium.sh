#!/usr/bin/env bash
# Runs before `npm test` (the `pretest` script): the HTML report test drives Debian's chromium
# through puppeteer-core, so install it when no Chromium or Chrome is there (GitHub's Ubuntu
# runners ship google-chrome). Never fails the tests by itself: without a browser the test says so.
set -uo pipefail
if command -v chromium >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1 ||
  [ -n "${CHROMIUM_PATH:-}" ] || ! command -v apt-get >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } ||
    echo "warning: could not install chromium; the HTML report browser test needs it" >&2
elif command -v sudo >/dev/null 2>&1; then
  { sudo -n apt-get update -qq && sudo -n apt-get install -y -qq chromium >/dev/null; } ||
    echo "warning: could not install chromium; the HTML report browser test needs it" >&2
fi
exit 0
