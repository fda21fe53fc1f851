#!/usr/bin/env bash
# Create .venv and install Podium with its test and model extras; quick when nothing changed
# (a stamp records the hash of pyproject.toml).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY="${PODIUM_PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  echo "[bootstrap] creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ "$(cat .venv/.podium-stamp 2>/dev/null)" != "$want" ]]; then
  echo "[bootstrap] installing podium[test,model] into .venv (torch is the CPU build)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test,model]'
  echo "$want" > .venv/.podium-stamp
else
  echo "[bootstrap] .venv is up to date"
fi
