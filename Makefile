# Balint Groups — `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi
CATALOGUES := $(wildcard app/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)

.PHONY: run test lint install translations test-servers extract-messages bench clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/activate

install: $(BIN)/activate translations

app/translations/%/LC_MESSAGES/messages.mo: app/translations/%/LC_MESSAGES/messages.po $(BIN)/activate
	$(BIN)/pybabel compile --use-fuzzy -d app/translations -l $* >/dev/null

translations: $(COMPILED)

run: install
	@mkdir -p instance
	$(BIN)/flask db upgrade
	$(BIN)/flask demo --if-empty
	@echo "Serving on http://127.0.0.1:$(PORT)"
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

lint: install
	$(BIN)/ruff check app tests bench config.py wsgi.py

# The OpenID Connect provider the sign-in tests run on loopback (oidc-provider, pinned in package-lock.json).
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Without npm (a machine with only Python and make) the single sign-on tests are skipped; CI installs it.
test-servers:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory node_modules/.package-lock.json; \
	else echo "npm not found: the single sign-on tests will be skipped (.ci/run installs Node and npm)"; fi

test: lint test-servers
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmark (not part of `make test`): needs wrk (Debian package) and, for the city scale, PostgreSQL.
bench: install
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.two_hosts --if-data $(TWO_HOSTS_ARGS)
	$(BIN)/python -m bench.channels $(CHANNELS_ARGS)

extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o messages.pot --no-location --omit-header . >/dev/null
	$(BIN)/pybabel update -i messages.pot -d app/translations --no-fuzzy-matching
	rm -f messages.pot

clean:
	rm -rf $(VENV) instance/*.db node_modules
