# MSHT victim-engagement toolkit. `make help` lists the targets.
# PARAMS picks the run: make report PARAMS=params/myforce.yaml
PARAMS ?= params/default.yaml
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help venv data check run render report test test-unit clean-outputs bench

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the project into it (if needed)

data: venv ## Generate the synthetic extracts for PARAMS if there are none
	$(BIN)/msht data --params $(PARAMS)

check: data ## Check the extracts of PARAMS in one pass (every problem; page and CSV in the processed folder)
	$(BIN)/msht check --params $(PARAMS)

run: data ## Run the notebooks with papermill (writes results CSVs)
	$(BIN)/msht run --params $(PARAMS)

render: venv ## Render the report of PARAMS (Quarto if on PATH, else the HTML fallback)
	$(BIN)/msht render --params $(PARAMS)

report: venv ## Everything: data if missing, notebooks, results, rendered report
	$(BIN)/msht report --params $(PARAMS)

# Hypothesis profile (tests/hypothesis_profiles.py): `ci` under CI (CI=true: the full budgets,
# derandomized), `full` for `make test` elsewhere, `dev` (a few examples each) for `make test-unit`.
FULL_PROFILE := $(if $(CI),ci,full)
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

test: data ## Everything, on every core: unit, property (full budgets), backtests, end-to-end runs, nbval on the committed notebooks
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-$(FULL_PROFILE)} $(PYTEST) tests notebooks --nbval \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -n auto --dist loadgroup --durations=30

test-unit: venv ## The everyday loop: every test but the slow end-to-end runs, few Hypothesis examples (under 2 minutes)
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-dev} $(PYTEST) tests -m "not slow" -n auto --dist loadgroup --durations=15

clean-outputs: ## Remove git-ignored run outputs (_output/) and generated data (data/)
	rm -rf _output data/raw data/processed

bench: venv ## Benchmark every stage at scales 1, 10 and 100 (time, peak memory, ratio to the pyarrow floor)
	$(BIN)/python -m msht.bench --scales 1 10 100
