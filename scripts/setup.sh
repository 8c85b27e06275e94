#!/usr/bin/env bash
# Creates .venv (Python 3.11) and installs aedetect with the extras named in $AEDETECT_EXTRAS.
# PyTorch is pinned to the CPU build torch==2.13.0 by pyproject.toml. Safe to run again: the install
# is skipped when .venv already holds these extras for this pyproject.toml (the package itself is an
# editable install, so source changes need no reinstall).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${AEDETECT_EXTRAS:-server}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=".venv/.aedetect-installed"  # lines "<sha256 of pyproject.toml> <extras installed>"
project="$(sha256sum pyproject.toml | cut -d' ' -f1)"
installed() {
    [ -f "$stamp" ] && [ -x .venv/bin/aedetect ] || return 1
    local hash have extra
    while read -r hash have; do
        [ "$hash" = "$project" ] || continue
        for extra in ${extras//,/ }; do
            case ",$have," in *",$extra,"*) ;; *) continue 2 ;; esac
        done
        return 0
    done <"$stamp"
    return 1
}
if installed; then
    exit 0
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[${extras}]"
echo "$project $extras" >>"$stamp"
