#!/usr/bin/env bash
# Creates .venv (Python 3.11) and installs aedetect with the extras named in $AEDETECT_EXTRAS.
# pyproject.toml pins torch==2.13.0 but not its build: on a machine without an NVIDIA GPU (no
# nvidia-smi) torch is first installed from PyTorch's CPU wheel index (about 0.2 GB instead of the
# several GB of the CUDA build PyPI serves on Linux); AEDETECT_TORCH=cuda skips that and takes the
# default index's build. Safe to run again: the install is skipped when .venv already holds these
# extras for this pyproject.toml (the package itself is an editable install, so source changes need
# no reinstall).
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
torch_pin="$(grep -o '"torch==[^"]*"' pyproject.toml | head -n 1 | tr -d '"')"  # its pin there
cpu_index="https://download.pytorch.org/whl/cpu"
if [ "${AEDETECT_TORCH:-auto}" != cuda ] && ! command -v nvidia-smi >/dev/null 2>&1 \
    && ! .venv/bin/python -c "import importlib.metadata as m; m.version('torch')" >/dev/null 2>&1; then
    # No GPU: the CPU build. An unreachable index fails fast (5 s, no retries) and the pyproject
    # install below takes torch from the default index instead.
    .venv/bin/python -m pip install -q --timeout 5 --retries 0 --index-url "$cpu_index" "$torch_pin" \
        || echo "setup: $cpu_index not reachable; installing torch from the default index" >&2
fi
.venv/bin/python -m pip install -q -e ".[${extras}]"
echo "$project $extras" >>"$stamp"
