#!/usr/bin/env bash
# What the render, PDF and browser tests need besides Python packages: Debian's Chromium
# (Playwright drives it), poppler-utils (pdftotext, pdftoppm) and axe-core (npm, pinned in
# package.json, into ./node_modules). Installed like the data set: apt packages when we are
# root on Debian; otherwise this says what is missing and those tests skip with the same
# reason (under CI=true they fail instead). Quarto itself comes from https://quarto.org.
# Also a C++ compiler (g++) for the fused training kernels that tests/test_fused.py checks
# (without one, training falls back to PyTorch's kernels and those tests skip).
set -euo pipefail
missing=()
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
{ command -v pdftotext && command -v pdftoppm; } >/dev/null 2>&1 || missing+=(poppler-utils)
command -v npm >/dev/null 2>&1 || missing+=(npm)
{ [ -n "${CXX:-}" ] || command -v c++ || command -v g++ || command -v clang++; } >/dev/null 2>&1 || missing+=(g++)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian packages for the render tests: ${missing[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Not installed: ${missing[*]} (as root on Debian: apt-get install ${missing[*]});" \
         "the render/browser tests that need them will skip." >&2
  fi
fi
if [ ! -f node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null 2>&1; then
  npm install --no-audit --no-fund --no-package-lock --loglevel=error
fi
command -v quarto >/dev/null 2>&1 ||
  echo "Quarto is not on PATH: the render tests will skip (install it from https://quarto.org/docs/get-started/)." >&2
exit 0
