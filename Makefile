# The verbs of Xiaobao. Every target installs what it needs into .venv first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR):$(CURDIR)/gen/python

.PHONY: install proto demo test unit integration faults lint bench k8s-check monitoring lock clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: Xiaobao needs Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23" "setuptools>=68,<82" wheel
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project (the `xiaobao` command included)

proto: $(STAMP)  ## regenerate gen/python from protos/
	$(PY) -m services.common.protogen

# ONCE=1 runs the day, prints the summary and stops everything (for scripts and CI).
demo: install
	$(VENV)/bin/xiaobao demo $(if $(ONCE),--once,)

test: install  ## unit and integration tests (integration: real RabbitMQ and PostgreSQL)
	$(PY) -m pytest tests/unit tests/integration

unit: install
	$(PY) -m pytest tests/unit

integration: install
	$(PY) -m pytest tests/integration

faults: install  ## broker stopped, processes killed, database restarted, duplicates, poison: the table
	$(PY) -m pytest tests/integration/faults

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check services tests bench deploy

bench: install  ## the long benchmarks (~11 min): bench/run.py, the design floor, the whole platform end to end
	$(PY) bench/run.py
	$(PY) bench/design_floor.py --json .data/bench-design-floor.json
	$(PY) bench/platform.py --json .data/bench-platform.json

k8s-check: install
	$(PY) -m deploy.k8s.check

monitoring: install  ## regenerate deploy/k8s/monitoring (rules, alerts, dashboard) from the clock policy
	$(PY) -m deploy.monitoring_gen

lock: install  ## rewrite constraints.txt from what is installed
	$(PY) -m pip freeze --exclude-editable | grep -v '^xiaobao' > constraints.txt

clean:
	rm -rf $(VENV) .data .pytest_cache
