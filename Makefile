# seppmail-lifecycle: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install lint typecheck test unit e2e reliability bench bench-quick crds check-crds run cluster-up cluster-down cluster-status clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@# Builds kube-apiserver, kube-controller-manager, kubectl, etcd and helm once (cached in
	@# ~/.cache/seppmail-lifecycle), or uses KUBEBUILDER_ASSETS; links kubectl and helm into the venv.
	$(PY) -m seppmail_lifecycle.devcluster.binaries --link $(BIN)
	touch $@

install: $(STAMP) ## set everything up: Python venv, dependencies, the local control plane binaries, helm

lint: $(STAMP) ## ruff (lint and formatting) and import-linter (the layers in pyproject.toml)
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP) ## mypy --strict
	$(BIN)/mypy

test: lint typecheck ## lint, types and every test (unit and e2e on the real control plane)
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(STAMP) ## the unit tests only (no server)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

e2e: $(STAMP) ## the e2e tests only (real kube-apiserver, etcd, controller-manager)
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

reliability: $(STAMP) ## the reliability suite at full size (crashes, faults, hostile input, bounded bookkeeping); prints its figures
	RELIABILITY_SIZE=full $(BIN)/pytest tests/reliability $(PYTEST_ARGS)

bench: $(STAMP) ## the benchmark at the targets' sizes (long): figures as median [min-max] of 3 runs, JSON in bench-results.json
	$(PY) -m bench

bench-quick: $(STAMP) ## the benchmark at laptop sizes (a few minutes)
	$(PY) -m bench --quick

crds: $(STAMP) ## regenerate crds/ from the pydantic models in operator/seppmail_lifecycle/api, the Argo CD health keys and the Flux healthCheckExprs
	rm -f crds/*.yaml
	$(PY) -m seppmail_lifecycle.api.crdgen crds
	$(PY) -m seppmail_lifecycle.api.crdgen argocd charts/seppmail-lifecycle/argocd
	$(PY) -m seppmail_lifecycle.api.crdgen flux charts/seppmail-lifecycle/flux

run: $(STAMP) ## run the product: a cluster (yours, or a local one), CRDs, examples, the operator
	$(PY) -m seppmail_lifecycle.devcluster.embedded --root . --policy manifests/demo-policy.yaml

cluster-up: $(STAMP) ## start the local control plane in .devcluster/ and print its KUBECONFIG
	$(PY) -m seppmail_lifecycle.devcluster up --state-dir .devcluster

cluster-down: $(STAMP) ## stop the local control plane and remove .devcluster/
	$(PY) -m seppmail_lifecycle.devcluster down --state-dir .devcluster

cluster-status: $(STAMP) ## is the local control plane running?
	$(PY) -m seppmail_lifecycle.devcluster status --state-dir .devcluster

clean: ## remove the venv and caches (not the built binaries in ~/.cache/seppmail-lifecycle)
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
