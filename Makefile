# credctl — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := build/demo
CREDCTL := $(BIN)/credctl --project-dir $(DEMO)

.PHONY: demo test faults lint typecheck bench install dev dist node-deps browser shells terraform clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Runtime install only: the tool must work without dev dependencies.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

# Node's dotenv reads back generated .env files in the tests (skipped without npm).
node-deps:
	@if [ ! -f tests/node/package.json ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --prefix tests/node >/dev/null && echo "node dotenv installed"; \
	else echo "npm not found: Node dotenv tests will be skipped"; fi

# Headless Chromium renders the HTML status report in the tests (skipped without it).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "could not install chromium: browser tests will be skipped"; \
		else echo "chromium not found: browser tests will be skipped"; fi; }

# zsh and dash evaluate the `shell` format, fish completes with credctl's script, in the tests
# (each skipped when missing).
shells:
	@missing=""; for shell in zsh dash fish; do command -v $$shell >/dev/null 2>&1 || missing="$$missing $$shell"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			(apt-get update -qq && apt-get install -y -qq $$missing >/dev/null) || echo "could not install$$missing: their shell tests will be skipped"; \
		else echo "not found:$$missing: their shell tests will be skipped"; fi; fi

# terraform and its AWS provider run the Terraform coexistence test (tests/test_terraform.py),
# offline against moto_server, from a filesystem mirror of the provider; skipped without them.
TERRAFORM_PLUGIN_MIRROR ?= /opt/tf-plugins
export TERRAFORM_PLUGIN_MIRROR
terraform:
	@if ! command -v terraform >/dev/null 2>&1; then \
		echo "terraform not found: the Terraform coexistence test will be skipped"; \
	elif [ ! -d "$(TERRAFORM_PLUGIN_MIRROR)/registry.terraform.io/hashicorp/aws" ]; then \
		echo "no AWS provider mirror in $(TERRAFORM_PLUGIN_MIRROR): the Terraform test will be skipped"; \
	else echo "terraform and the AWS provider found: the Terraform coexistence test runs"; fi

demo: install
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@cp -r credentials.md environments policies $(DEMO)/
	@echo "== credctl validate (table, environments, policies; no network)"
	$(CREDCTL) validate
	@echo; echo "== seed the dev store as if in use for a while (local, encrypted under $(DEMO)/.credctl)"
	$(BIN)/python scripts/demo_seed.py $(DEMO) dev
	@echo; echo "== a secret made out of band, then credctl plan --env dev"
	$(BIN)/python scripts/demo_seed.py $(DEMO) dev --unmanaged dev/legacy/api-key
	$(CREDCTL) plan --env dev
	@echo; echo "== credctl sync --env dev (store metadata and the table's owned cells)"
	$(CREDCTL) sync --env dev --actor demo
	@echo; echo "== credctl audit --env dev"
	$(CREDCTL) audit --env dev --fail-on never
	@echo; echo "== credctl status --env dev --format html -o $(DEMO)/report.html"
	$(CREDCTL) status --env dev --format html -o $(DEMO)/report.html
	@echo; echo "== credctl env --env dev (writes $(DEMO)/.env.dev, mode 0600), then --check"
	$(CREDCTL) env --env dev
	@ls -l $(DEMO)/.env.dev | cut -d' ' -f1
	$(CREDCTL) env --env dev --check
	@echo; echo "== credctl rotate --due --env dev (staged: pending, verify, promote)"
	$(CREDCTL) rotate --due --env dev --actor demo
	@echo; echo "== printf ... | credctl set dev/stripe/api-key; credctl audit"
	@printf 'sk_test_demo_%s' "$$(date +%s)" | $(CREDCTL) set dev/stripe/api-key --actor demo
	$(CREDCTL) audit --env dev --fail-on never --format json | $(BIN)/python -c "import json,sys; d=json.load(sys.stdin); print({c['id']: c['status'] for c in d['credentials']})"
	@echo; echo "== credctl log -n 5"
	$(CREDCTL) log -n 5
	@echo; echo "demo done: the demo project is in $(DEMO)/ (git-ignored); open $(DEMO)/report.html"

LINTED := credctl tests $(wildcard bench scripts)

lint: dev
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: dev
	$(BIN)/mypy credctl tests

# Then the server-free tests once more with credctl's clock and the tests' idea of today a
# year ahead, so a test that quietly depends on today's date fails today, not next year.
test: dev node-deps browser shells terraform lint typecheck
	$(BIN)/pytest -n 2 --durations=10
	@echo "== again with the clock moved a year ahead (stores that keep their own time left out)"
	$(BIN)/pytest -n 2 -q --clock-offset 365d

# The whole fault matrix (`make test` runs a sample): set, rotate and sync with every request
# failing on AWS and Vault, killed before every write on the local store; then a summary.
faults: dev
	@mkdir -p build && rm -f build/faults.jsonl
	@FAULT_MATRIX=all FAULT_MATRIX_REPORT=build/faults.jsonl $(BIN)/pytest -n 2 -q tests/test_faults.py; \
	status=$$?; echo; $(BIN)/python -m tests.support.fault_summary build/faults.jsonl; exit $$status

# A release: the sdist and the wheel in dist/, both checked by twine, and the wheel installed
# into a clean virtualenv (its dependencies from the package index) that must print this version.
DIST_CHECK := build/dist-check
dist: dev
	rm -rf dist $(DIST_CHECK)
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*
	$(PYTHON) -m venv $(DIST_CHECK)
	$(DIST_CHECK)/bin/python -m pip install --quiet dist/credctl-*.whl
	@want="credctl, version $$($(BIN)/python -c 'import credctl; print(credctl.__version__)')"; \
	got="$$(cd $(DIST_CHECK) && bin/credctl --version)"; echo "$$got"; \
	[ "$$got" = "$$want" ] || { echo "expected '$$want' from the installed wheel"; exit 1; }
	@ls -1 dist/

# N = 10,000 (minutes of seeding moto_server and OpenBao) only with BENCH_FULL=1.
bench: dev
	@for script in bench/*_bench.py; do echo "== $$script"; \
		case $$script in \
			bench/scale_bench.py) extra="$(if $(BENCH_FULL),--full)";; \
			bench/aws_bench.py|bench/vault_bench.py) extra="$(if $(BENCH_FULL),,--sizes 100,1000)";; \
			*) extra="";; \
		esac; \
		$(BIN)/python $$script $$extra || exit 1; done

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache tests/node/node_modules
