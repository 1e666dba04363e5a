# The README's two commands: `make report` and `make test`. Each sets up what it needs.
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
PROFILE ?= full
STAMP   := $(VENV)/.installed
TOOLS   := $(VENV)/tools

.PHONY: report test compute setup data render-tools bench clean

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# cffconvert (tests validate CITATION.cff with it) pins jsonschema < 4: its own small venv
$(TOOLS)/.installed: requirements-tools.txt
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	@touch $@

setup: $(STAMP) $(TOOLS)/.installed

data: setup
	@bash scripts/ensure-data.sh $(PY)

# Chromium, poppler-utils and axe-core for the render/browser tests (installed when root on Debian).
render-tools:
	@bash scripts/ensure-render-tools.sh

# Compute every result of the chosen profile (PROFILE=full|quick), then render with Quarto.
# A user error ends in the library's one-line message (no traceback, no echoed command);
# make's own last line, "Error N", carries the library's exit code (2 setting, 3 data, 4 store).
compute: data
	@$(PY) -m fmnist_lib run --profile $(PROFILE)

report: compute
	@if ! command -v quarto >/dev/null 2>&1; then \
	  echo "Quarto is not on PATH, so the paper cannot be rendered here."; \
	  echo "Install Quarto (>= 1.4) from https://quarto.org/docs/get-started/ and run 'make report' again."; \
	  echo "The computed results are in results/$(PROFILE)/ (python -m fmnist_lib run --profile $(PROFILE))."; \
	  exit 1; \
	fi
	QUARTO_PYTHON=$(abspath $(PY)) quarto render --profile $(PROFILE)

test: data render-tools
	$(PY) -m pytest

bench: data
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf _output _freeze .quarto _screenshots
