# monitord: two commands on a fresh machine, `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test
PACKAGES := monitord collectors alerting

.PHONY: demo run test lint typecheck pytest clean install uninstall

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TESTSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

demo: $(STAMP)
	$(BIN)/monitord demo --dir var/demo

run: $(STAMP)
	mkdir -p var/log && touch var/log/dnsmasq.log
	$(BIN)/monitord --config config/monitord.toml run

lint: $(TESTSTAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(TESTSTAMP)
	$(BIN)/mypy $(PACKAGES)

pytest: $(TESTSTAMP)
	scripts/test-packages.sh
	$(BIN)/pytest -q

test: lint typecheck pytest

# On the school server, as root: the service, its user, /opt/monitord and /etc/monitord.
install:
	scripts/install.sh install

uninstall:
	scripts/install.sh uninstall

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
