#!/usr/bin/env bash
# Make sure the real Fashion-MNIST is present; install Debian's package when we can.
# Usage: scripts/ensure-data.sh PYTHON
set -euo pipefail
PY=${1:-.venv/bin/python}
check() { "$PY" -c 'from fmnist_lib.data import find_data_dir, load_fashion_mnist; load_fashion_mnist(download=False); print("Fashion-MNIST found in", find_data_dir(download=False))'; }
if check 2>/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Fashion-MNIST not found: installing Debian's dataset-fashion-mnist ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null
  check && exit 0
fi
# Not root or not Debian: show the library's own error, which lists every place searched
# and the ways to get the data (FMNIST_DATA, ./data/fashion-mnist, FMNIST_DOWNLOAD=1).
if [ "${FMNIST_DOWNLOAD:-}" = 1 ]; then
  "$PY" -c 'from fmnist_lib.data import load_fashion_mnist; load_fashion_mnist(download=True)' && exit 0
fi
check
