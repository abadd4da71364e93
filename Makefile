# Warden: `make run` starts the whole system, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SERVICES := intake routing decision notify

.PHONY: setup run test test-unit infra infra-stop schemas bench chaos chaos-short lint clean

$(VENV)/.installed: requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check uv==0.13.9
	@$(VENV)/bin/uv pip sync -q --python $(PY) requirements.lock
	@# The venv's site directory is only known once the venv exists, so ask it here.
	@site="$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" && \
	  printf '%s\n' $(CURDIR)/cli $(CURDIR)/shared $(foreach s,$(SERVICES),$(CURDIR)/services/$(s)) > "$$site/warden.pth"
	@touch $@

setup: $(VENV)/.installed ## Install the locked dependencies into .venv

infra: setup ## Start local Kafka and PostgreSQL (idempotent)
	@bash deploy/local/up.sh

infra-stop:
	@bash deploy/local/down.sh

run: setup ## Start Kafka, PostgreSQL, migrations, topics, the four services and a webhook receiver
	@bash deploy/local/run.sh

test: setup ## Run the whole test suite against real Kafka and PostgreSQL
	@$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

test-unit: setup
	@$(PY) -m pytest -p no:cacheprovider tests/unit $(PYTEST_ARGS)

schemas: setup ## Regenerate the checked-in JSON Schemas of every event
	@$(PY) -m warden.cli schemas

bench: setup ## Benchmarks (throughput, latency, ratios against raw baselines)
	@bash bench/run.sh

chaos: setup ## The fault suite under load, on its own Kafka and PostgreSQL (CHAOS_ARGS=--short ...)
	@PYTHONPATH=$(CURDIR) $(PY) -m chaos $(CHAOS_ARGS)

# The short form is a test of the suite (tests/e2e/test_chaos_short.py), so `make test` runs it;
# this target runs it alone.
chaos-short: setup ## The fault suite's short form alone (kill -9 routing, poison, broker restart)
	@$(PY) -m pytest -p no:cacheprovider tests/e2e/test_chaos_short.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
