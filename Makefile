# The two commands of the README: `make demo` and `make test`. Both build their own virtualenv.
#
# torch is installed first, on its own, from $(TORCH): on this CPU machine `torch==2.13.0` takes the
# local CPU wheel. A GPU host keeps its CUDA build by installing it into .venv first, e.g.
#   make TORCH="torch --index-url https://download.pytorch.org/whl/cu126" venv
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := train,serve,inspect,poster,k8s,dev
DEMO_OUT ?= demo-out
DEMO_MINUTES ?= 3
# The made-up mention the demo's reply answers (each run's is new: it carries the time).
DEMO_MENTION ?= @stdout what is a kernel, and why does it panic?

# The reference Bluesky PDS (node, from npm) that the Bluesky tests post to, installed once into an ignored cache.
PDS_SETUP ?= ../shared/bluesky-pds/setup.sh
PDS_DIR := .cache/bluesky-pds

.PHONY: venv pds test demo k8s-check images image-poster clean

venv: $(VENV)/.installed

pds: $(PDS_DIR)/.installed

$(PDS_DIR)/.installed:
	@test -f $(PDS_SETUP) || { echo "error: $(PDS_SETUP) not found: the Bluesky tests post to the reference PDS;" \
		"point PDS_SETUP at its setup.sh (make test PDS_SETUP=path/to/bluesky-pds/setup.sh)" >&2; exit 1; }
	bash $(PDS_SETUP) $(PDS_DIR)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

test: venv pds
	$(BIN)/ruff check .
	$(BIN)/pytest

# Corpus -> tiny GPT-2 (a few minutes on 2 CPU cores) -> perplexity and samples -> HTML report
# -> selector (bootstrap mode) -> .mar -> TorchServe (token auth on) -> a few generations over HTTP
# -> a post to stdout recorded in a ledger -> a reply to a made-up mention -> TorchServe stopped again.
demo: venv
	$(BIN)/lorecast dataset build dataset/demo/jargon-4.4.7.jsonl --field definition --title-field headword \
		-o $(DEMO_OUT)/corpus --force
	$(BIN)/lorecast train generator --corpus $(DEMO_OUT)/corpus --preset tiny --max-minutes $(DEMO_MINUTES) \
		-o $(DEMO_OUT)/model --force
	@# Texts as the handler serves them, each from its own seed word, with copies of train.txt kept
	@# (--min-novelty 0): the report below measures how much the model copies.
	$(BIN)/lorecast train sample --model $(DEMO_OUT)/model --corpus $(DEMO_OUT)/corpus -n 200 --per-request 1 \
		--min-novelty 0 --rng-seed 0 > $(DEMO_OUT)/samples.txt
	head -n 8 $(DEMO_OUT)/samples.txt
	$(BIN)/lorecast dataset inspect $(DEMO_OUT)/corpus --against $(DEMO_OUT)/samples.txt \
		-o $(DEMO_OUT)/report --force
	$(BIN)/lorecast train selector --model $(DEMO_OUT)/model --corpus $(DEMO_OUT)/corpus --layers -1,-2 \
		--negatives 600 -o $(DEMO_OUT)/selector --force
	$(BIN)/lorecast archive --model $(DEMO_OUT)/model --corpus $(DEMO_OUT)/corpus --selector $(DEMO_OUT)/selector \
		-o model_store/lorecast.mar --force
	$(BIN)/lorecast serve start --models lorecast.mar --run-dir $(DEMO_OUT)/serve
	$(BIN)/lorecast generate --key-file $(DEMO_OUT)/serve/key_file.json -n 5 --rng-seed 0 \
		&& $(BIN)/lorecast post stdout --key-file $(DEMO_OUT)/serve/key_file.json --ledger $(DEMO_OUT)/posts.db \
		&& $(BIN)/lorecast reply stdout --key-file $(DEMO_OUT)/serve/key_file.json --ledger $(DEMO_OUT)/posts.db \
			--stdout-mention "$(DEMO_MENTION) (asked $$(date -u +%H:%M:%S))" \
		&& $(BIN)/lorecast ledger list --ledger $(DEMO_OUT)/posts.db \
		&& $(BIN)/lorecast ledger mentions --ledger $(DEMO_OUT)/posts.db; \
		status=$$?; $(BIN)/lorecast serve stop --run-dir $(DEMO_OUT)/serve; exit $$status

# Render every overlay of k8s/ with `kubectl kustomize`, validate it strictly against the oldest and newest
# Kubernetes that kubernetes-validate knows, and apply the project's rules (ops/k8s_check.py says which).
k8s-check: venv
	$(BIN)/python -m ops.k8s_check

# Container images (docker/): TorchServe with model_store/lorecast.mar baked in, one per variant (the CPU or a
# CUDA torch), and the slim poster image. The k8s overlays expect the default names, e.g.
# ghcr.io/lorecast/torchserve:0.1.0-cpu; push with `docker push` (README, "Deploy to Kubernetes").
#   make images REGISTRY=registry.example.com/me TAG=0.2.0 VARIANTS=cpu
DOCKER ?= docker
REGISTRY ?= ghcr.io/lorecast
TAG ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
VARIANTS ?= cpu gpu
IMAGE_TORCH ?= torch==2.13.0
TORCH_INDEX_URL_cpu ?= https://download.pytorch.org/whl/cpu
TORCH_INDEX_URL_gpu ?= https://download.pytorch.org/whl/cu126

images: $(VARIANTS:%=image-torchserve-%) image-poster

# A pattern rule (not .PHONY, which would skip it): it runs every time, as no file of that name is made.
image-torchserve-%: model_store/lorecast.mar
	$(DOCKER) build -f docker/torchserve.Dockerfile --build-arg TORCH=$(IMAGE_TORCH) \
		--build-arg TORCH_INDEX_URL=$(TORCH_INDEX_URL_$*) -t $(REGISTRY)/torchserve:$(TAG)-$* .

image-poster:
	$(DOCKER) build -f docker/poster.Dockerfile -t $(REGISTRY)/poster:$(TAG) .

model_store/lorecast.mar:
	@echo "error: model_store/lorecast.mar is missing: run 'make demo' or 'lorecast archive ... -o model_store/lorecast.mar'" >&2
	@exit 1

clean:
	rm -rf $(DEMO_OUT) build *.egg-info
