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

DYNAMODB ?= http://127.0.0.1:$${MOTO_PORT:-4566}
ROLE ?= USER

.PHONY: help venv run user test lint validate build unit integration e2e deploy clean

help:
	@echo "make run      local stack on http://127.0.0.1:\$${PORT:-3000} with a demo user"
	@echo "make test     lint, template checks, sam build, unit + integration + e2e tests"
	@echo "make user EMAIL=.. PASSWORD=.. [NAME=..] [ROLE=ADMIN|USER]   add a user to the local stack"
	@echo "make build | validate | deploy"

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

venv: $(VENV)/.installed $(SAM_VENV)/.installed

run: venv
	$(SAM_VENV)/bin/python -m local --runtime-python $(PY)

user: $(VENV)/.installed
	@test -n "$(EMAIL)" -a -n "$(PASSWORD)" || { echo "usage: make user EMAIL=a@b.c PASSWORD=... [NAME=..] [ROLE=ADMIN|USER]"; exit 2; }
	AWS_ENDPOINT_URL_DYNAMODB=$${AWS_ENDPOINT_URL_DYNAMODB:-$(DYNAMODB)} \
	AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-testing} \
	SESSIONGATE_PASSWORD='$(PASSWORD)' PYTHONPATH=layers/sessiongate \
	$(PY) -m sessiongate.admin create-user --email '$(EMAIL)' --role '$(ROLE)' $(if $(NAME),--name '$(NAME)')

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

validate: venv
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint

build: venv
	$(SAM) build

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit

integration: $(VENV)/.installed
	$(PY) -m pytest tests/integration

e2e: venv
	$(PY) -m pytest tests/e2e

test: lint validate build
	$(PY) -m pytest

deploy: build
	$(SAM) deploy $(if $(CONFIG_ENV),--config-env $(CONFIG_ENV))

clean:
	rm -rf .aws-sam $(VENV) $(SAM_VENV)
