#!/usr/bin/env bash
# Install what mixrep needs on a fresh Debian machine: system packages (apt-get, when run as root),
# a Python 3.11 virtual environment with the pinned dependencies, and mixrep itself (editable).
set -euo pipefail
venv=${1:-.venv}
cd "$(dirname "$0")/.."

# --- system packages: FluidSynth + the GM soundfont render the synthetic corpus; ffmpeg is needed by
# museval's import (BSS Eval v4, beside our own SDR); Node.js + npm run webMUSHRA's own YAML parser in the tests.
need=()
command -v fluidsynth >/dev/null 2>&1 || need+=(fluidsynth)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need+=(fluid-soundfont-gm)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${need[*]}" >&2
    echo "setup: install them with: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

# --- Python 3.11
py=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && \
     "$candidate" -c 'import sys; raise SystemExit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    py=$(command -v "$candidate"); break
  fi
done
if [ -z "$py" ]; then
  echo "setup: Python 3.11 is required (Debian: apt-get install python3.11 python3.11-venv)" >&2
  exit 1
fi

# --- virtual environment with pinned dependencies
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r requirements.lock
"$venv/bin/python" -m pip install --quiet --no-deps -e .
"$venv/bin/python" -c 'import mixrep, torch, torchaudio; print(f"setup: mixrep {mixrep.__version__}, torch {torch.__version__}, cuda available: {torch.cuda.is_available()}")'

# --- JavaScript the tests run against (webMUSHRA's YAML parser), pinned by tests/js/package-lock.json
if [ ! -d tests/js/node_modules/yamljs ]; then
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error >/dev/null
fi
