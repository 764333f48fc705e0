# Two commands: `make demo` and `make test`. Each sets up .venv first (quietly: pip's own
# output goes to .venv/install.log, and is shown only when setting up fails).
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOG    := $(VENV)/install.log

.PHONY: venv test sim demo lint typecheck format bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Setting up $(VENV): the first time only, about a minute (log: $(LOG))"
	@set -o pipefail; tty=$$([ -t 1 ] && echo 1 || echo 0); \
	{ $(BIN)/python -m pip install --upgrade pip && \
	  $(BIN)/python -m pip install -e '.[dev]'; } > >(tee $(LOG) | \
	  awk -v tty=$$tty '/^ *(Collecting|Downloading|Processing|Building|Installing)/ \
	       { if (tty) printf "\r\033[K  %.72s", $$0; fflush() } \
	       END { if (tty) printf "\r\033[K" }') 2>&1 \
	|| { sleep 1; echo; echo "Setting up $(VENV) failed. The end of $(LOG):"; \
	     tail -n 30 $(LOG); exit 1; }
	@sleep 0.2; echo "  ready."
	@touch $(STAMP)

venv: $(STAMP)

# The suite in two phases: everything side by side on up to WORKERS processes (one per core),
# then the tests where timing matters (marked `serial`) alone. PYTEST_ARGS narrows both (a
# phase that selects nothing is not a failure).
WORKERS ?= 4
test: $(STAMP)
	@set -o pipefail; $(BIN)/python -m pytest -q -n auto --maxprocesses=$(WORKERS) -m "not serial" $(PYTEST_ARGS); \
	  rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ] || exit $$rc
	@echo "Timing-sensitive tests, one at a time:"
	@$(BIN)/python -m pytest -q -m serial $(PYTEST_ARGS); \
	  rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ] || exit $$rc

# The whole-system simulation: SEEDS=N seeds (default 500) of the "sim" tier from seed FIRST
# (default 1: a long run can go in chunks), or SEED=n to replay one (TIER=test|sim|big).
# Ends with one line: "sim: N seeds, ... invariant violations".
SEEDS ?= 500
FIRST ?= 1
TIER  ?= sim
sim: $(STAMP)
	@PYTHONPATH=src:. $(BIN)/python -m tests.sim.runner --tier $(TIER) \
	  $(if $(SEED),--seed $(SEED),--seeds $(SEEDS) --first $(FIRST))

demo: $(STAMP)
	@$(BIN)/pcosync demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info src/*.egg-info
