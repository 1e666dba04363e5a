#!/usr/bin/env bash
# Make sure the real Fashion-MNIST is present; install Debian's package when we can.
# Usage: scripts/ensure-data.sh PYTHON
# Errors are the library's own: one message naming the file or setting and the fix, and the
# exit code of its kind (3 for data), never a traceback (FMNIST_DEBUG=1 shows one).
set -uo pipefail
PY=${1:-.venv/bin/python}
check() { "$PY" -m fmnist_lib check --data-only; }
if check 2>/dev/null; then exit 0; fi
# A wrong FMNIST_DATA is the user's choice to fix: installing another copy would hide it.
if [ -z "${FMNIST_DATA:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Fashion-MNIST not found: installing Debian's dataset-fashion-mnist ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
# Not root, not Debian, or damaged/misplaced files: the library's message lists the places
# searched and the ways to get the data (FMNIST_DATA, ./data/fashion-mnist, FMNIST_DOWNLOAD=1).
check
