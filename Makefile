# Two commands matter on a fresh machine: `make demo` and `make test`.
# Everything they need is installed from this repository's own files.
# Any interpreter pyproject.toml's requires-python admits: make demo PYTHON=python3.13
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Node 22 from npm (node_modules/.bin) comes first: the machine's Node 20 is end-of-life
# and jsii warns on every synth under it. The venv comes next so `cdk` finds its python.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo test test-fast test-network lint synth image image-test deploy clean

$(VENV)/.installed: requirements.txt lambda_src/requirements.txt \
		lambda_src/requirements-mxnet.txt pyproject.toml
	@$(PYTHON) scripts/check_python.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r lambda_src/requirements-mxnet.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/linreg invoke events/s3-put.json --out demo-output

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

test: $(VENV)/.installed node_modules/.installed lint
	$(PY) -m pytest

# A developer's loop: lint, then the tests not marked slow (docs/development.md, "Tests").
test-fast: $(VENV)/.installed lint
	$(PY) -m pytest -m 'not slow and not image and not network'

# The runtime requirements, alone in a fresh virtualenv (pip: the package registries).
test-network: $(VENV)/.installed
	$(PY) -m pytest -m network

synth: $(VENV)/.installed node_modules/.installed
	cdk synth --quiet

# The function image as `cdk deploy` builds it (docs/image.md). Both start a private Docker
# engine when none answers, and stop it afterwards.
image: $(VENV)/.installed node_modules/.installed
	image/with-docker.sh $(PY) -m linreg_infra.lambda_image build

# Built from files only their owner can read (as a checkout under umask 077), then run as
# Lambda runs it; then the deploy's manifest, on an engine that attests by default.
image-test: $(VENV)/.installed node_modules/.installed
	image/with-docker.sh sh -c '$(PY) -m linreg_infra.lambda_image build --private-files \
	  && $(PY) -m pytest -m image tests/image/test_lambda_image.py'
	image/with-current-docker.sh $(PY) -m pytest -m image tests/image/test_manifest.py

# Extra arguments for cdk deploy: make deploy ARGS="-c linreg:memoryMb=3008"
deploy: $(VENV)/.installed node_modules/.installed
	$(PY) -m linreg_infra.lambda_image deploy $(ARGS)

clean:
	rm -rf $(VENV) node_modules cdk.out demo-output build .pytest_cache .ruff_cache .mypy_cache .hypothesis bench/.data model predictions.csv iris-runs.html
