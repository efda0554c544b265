# deepvideo: the two Quickstart commands are `make train` and `make test`.
# Both create .venv on first use (or reuse it) and install the project into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.deepvideo-installed

.PHONY: setup train test test-all lint precommit clean-data

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

## The Quickstart job (conf/experiment/quickstart.yaml: Slow Fusion on the synthetic benchmark,
## 5 epochs); ARGS=... adds overrides, EXPERIMENT=table1_slow_fusion runs Table 1's 10-epoch row
EXPERIMENT ?= quickstart
train: setup
	$(PY) src/train.py experiment=$(EXPERIMENT) $(ARGS)

## The default test suite (what CI runs); slow end-to-end tests are marked and run by test-all
test: setup
	$(PY) -m pytest -m "not slow" $(ARGS)

test-all: setup
	$(PY) -m pytest $(ARGS)

lint: setup
	$(VENV)/bin/pre-commit run --all-files

clean-data:
	rm -rf data/synthetic
