# Sluice: every command a developer or CI needs. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

TOOLS   := $(CURDIR)/.tools
VENV    := $(TOOLS)/venv/bin
NODEBIN := $(TOOLS)/node/node_modules/.bin
export PATH := $(VENV):$(NODEBIN):$(TOOLS)/cargo/bin:$(PATH)
# sam/cfn-lint need a region and (dummy) credentials even offline.
AWS_OFFLINE := AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline SAM_CLI_TELEMETRY=0

# Lambda packages (bin name = package name).
FUNCTIONS := $(notdir $(wildcard functions/*))
STATEMACHINES := $(wildcard statemachines/*.asl.json)

.PHONY: help tools test fmt-check clippy build unit template-check lambda-build demo bench fuzz sam-build clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

tools: ## Install the pinned tools into .tools/ (idempotent)
	@bash scripts/bootstrap.sh

test: tools fmt-check clippy unit template-check lambda-build ## Everything CI checks
	@echo "make test: all checks passed"

fmt-check: ## cargo fmt --check
	cargo fmt --all -- --check

clippy: ## clippy, warnings are errors
	cargo clippy --workspace --all-targets --locked -- -D warnings

build: ## Debug build of every binary (the tests run the real function binaries)
	cargo build --workspace --bins --locked

unit: build ## Every Rust test layer (unit, property, handler, moto, ASL)
	cargo test --workspace --locked

template-check: tools ## cfn-lint, sam validate --lint, asl-validator
	$(AWS_OFFLINE) cfn-lint template.yaml
	$(AWS_OFFLINE) sam validate --lint --template-file template.yaml
	@if [ -n "$(STATEMACHINES)" ]; then asl-validator --silent $(addprefix --json-path ,$(STATEMACHINES)) && echo "asl-validator: $(words $(STATEMACHINES)) state machine(s) valid"; fi

lambda-build: tools ## Release arm64 build of every function through cargo-lambda; prints sizes
	@if [ -n "$(FUNCTIONS)" ]; then \
	  cargo lambda build --release --arm64 --locked $(addprefix --bin ,$(FUNCTIONS)); \
	  for f in $(FUNCTIONS); do \
	    printf '%-24s %8d bytes\n' "$$f" "$$(stat -c %s target/lambda/$$f/bootstrap)"; \
	  done; \
	fi

demo: tools build ## Run every subsystem's local scenario on the stand-ins and print a report
	cargo run --quiet --locked -p sluice-demo

bench: tools ## Benchmarks (criterion); prints medians and ratios
	cargo bench --workspace --locked

fuzz: ## Fuzz the Encryption SDK parser for a bounded time (FUZZ_SECONDS, default 60)
	bash crates/esdk/fuzz/run.sh $${FUZZ_SECONDS:-60}

sam-build: tools ## sam build (cargo-lambda build method)
	$(AWS_OFFLINE) sam build --beta-features

clean: ## Remove build output (keeps .tools)
	cargo clean
	rm -rf .aws-sam
