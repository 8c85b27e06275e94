#!/usr/bin/env bash
# Gives the browser tests a headless Chromium from the Debian packages, with a font for Korean text
# (the screenshots show Korean names and values): installs what is missing and prints the path of
# the browser on stdout (everything else goes to stderr). Safe to run again. The tests drive it with
# Playwright by path (Playwright's own browser download is never used).
#
#   export AEDETECT_TEST_CHROMIUM="$(bash .ci/chromium.sh)"     # install if needed (the default)
#   bash .ci/chromium.sh status                                 # exit 0 when the browser is there
set -euo pipefail

action="${1:-install}"

log() { printf 'chromium.sh: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
found() { command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null; }
korean_font() { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=ko family)" ]; }

case "$action" in
    install) ;;
    status) found >/dev/null && korean_font; exit $? ;;
    *) log "usage: chromium.sh [install|status]"; exit 2 ;;
esac

if ! found >/dev/null || ! korean_font; then
    log "installing Chromium and a Korean font from the Debian packages"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium fonts-noto-cjk >&2
fi
found
