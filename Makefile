# cce-image-builder: the two commands a newcomer needs are `make image` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
BIN := target/release/cce-image-builder
TEMPLATE ?= templates/turbo-node.pkr.hcl

.PHONY: image test deps bench fuzz build release clean

# The main job: build a node image from $(TEMPLATE). With the seven variables of the user's
# document set it targets Cloud.ru Advanced; with none set, the embedded local cloud.
image:
	@CARGO="$(CARGO)" ./dev/image.sh "$(BIN)" "$(TEMPLATE)"

# Everything the tests need, installed idempotently at pinned versions, then every test.
test: deps
	$(CARGO) build --workspace --all-targets
	CCE_VENV=$(CURDIR)/.venv $(CARGO) test --workspace --no-fail-fast

deps:
	@./dev/deps.sh

bench: deps release
	@./dev/bench.sh "$(BIN)"

fuzz:
	@./dev/fuzz.sh

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release -p cce-image-builder

clean:
	$(CARGO) clean
