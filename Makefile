# monitord: two commands on a fresh machine, `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test
PACKAGES := monitord collectors alerting

.PHONY: demo run test lint typecheck pytest fuzz clean install uninstall

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
	$(BIN)/lint-imports

typecheck: $(TESTSTAMP)
	$(BIN)/mypy $(PACKAGES)

pytest: $(TESTSTAMP)
	scripts/test-packages.sh
	$(BIN)/pytest -q

test: lint typecheck pytest

# The whole-pipeline fuzzing's long profile: EXAMPLES a format (10,000), on STORES (both;
# STORES=sqlite for SQLite alone), FORMATS all unless given (FORMATS="agent suricata").
EXAMPLES ?= 10000
STORES ?= sqlite postgresql
FUZZ := tests/monitord/service/test_pipeline_fuzz.py
fuzz: $(TESTSTAMP)
	mkdir -p var && rm -f var/fuzz-report.txt
	MONITORD_FUZZ_EXAMPLES=$(EXAMPLES) MONITORD_FUZZ_REPORT=var/fuzz-report.txt \
		$(BIN)/pytest -q -p no:cacheprovider $(if $(FORMATS),$(foreach s,$(STORES),\
		$(foreach f,$(FORMATS),'$(FUZZ)::test_hostile_records_never_stop_the_pipeline[$(s)-$(f)]')),\
		$(FUZZ) -k "hostile and ($(subst $() , or ,$(STORES)))")
	cat var/fuzz-report.txt

# On the school server, as root: the service, its user, /opt/monitord and /etc/monitord.
install:
	scripts/install.sh install

uninstall:
	scripts/install.sh uninstall

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
