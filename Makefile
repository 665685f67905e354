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

.PHONY: help tools test fmt-check clippy build test-build unit template-check scan lambda-build key-policies demo query-check bench fuzz sam-build clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

tools: ## Install the pinned tools into .tools/ (idempotent)
	@bash scripts/bootstrap.sh

test: ## Everything CI checks, stage by stage, with each stage's wall time at the end
	@bash scripts/test.sh

fmt-check: ## cargo fmt --check
	cargo fmt --all -- --check

clippy: ## clippy, warnings are errors
	cargo clippy --workspace --all-targets --locked -- -D warnings

# The JSON messages of the two builds let scripts/no-rebuilds.py check that the tests reuse
# every dependency the binaries built (diagnostics still print, rendered, on stderr).
build: ## Debug build of every binary (the tests and the demo run the real function binaries)
	@mkdir -p target
	cargo build --workspace --bins --locked --message-format=json-render-diagnostics >target/build.jsonl

test-build: build ## Build the tests; fails if that compiles again a dependency the binaries built
	cargo test --workspace --no-run --locked --message-format=json-render-diagnostics >target/test-build.jsonl
	python3 scripts/no-rebuilds.py target/build.jsonl target/test-build.jsonl

unit: build ## Every Rust test layer (unit, property, handler, moto, ASL), every AWS call through the IAM gate
	rm -rf target/iam-gate
	cargo test --workspace --locked
	python3 scripts/iam-gate-summary.py target/iam-gate

template-check: tools ## cfn-lint, sam validate --lint, asl-validator, the IAM gate's replay
	$(AWS_OFFLINE) cfn-lint template.yaml
	$(AWS_OFFLINE) sam validate --lint --template-file template.yaml
	@if [ -n "$(STATEMACHINES)" ]; then asl-validator --silent $(addprefix --json-path ,$(STATEMACHINES)) && echo "asl-validator: $(words $(STATEMACHINES)) state machine(s) valid"; fi
	node --test tests/iam-gate/gate.test.mjs

scan: tools ## checkov + cfn-guard on the everything-on template (tests/scan/), then proves both can fail
	bash tests/scan/run.sh

# Each function's zipped code is what Lambda loads at every cold start: keep it small.
MAX_BINARY_BYTES := 8000000

lambda-build: tools ## Release arm64 build of every function through cargo-lambda; checks one TLS stack and prints sizes
	bash scripts/one-tls-stack.sh
	@if [ -n "$(FUNCTIONS)" ]; then \
	  cargo lambda build --release --arm64 --locked $(addprefix --bin ,$(FUNCTIONS)); \
	  over=0; \
	  for f in $(FUNCTIONS); do \
	    size=$$(stat -c %s target/lambda/$$f/bootstrap); \
	    printf '%-24s %10d bytes\n' "$$f" "$$size"; \
	    if [ "$$size" -gt $(MAX_BINARY_BYTES) ]; then echo "  over the $(MAX_BINARY_BYTES)-byte limit"; over=1; fi; \
	  done; \
	  [ "$$over" = 0 ]; \
	fi

key-policies: tools ## Print the KMS key-policy statements the stack's keys need (PARAMS=stack-params.json RESOURCES=describe-stack-resources.json)
	node tests/iam-gate/key-policies.mjs $(if $(PARAMS),--params $(PARAMS)) $(if $(RESOURCES),--physical $(RESOURCES)) $(if $(ACCOUNT),--account $(ACCOUNT)) $(if $(REGION),--region $(REGION)) $(if $(STACK),--stack-name $(STACK))

# Runs the binary `build` made: `cargo run -p` would resolve the demo's features on their own
# and rebuild shared dependencies.
demo: tools build ## Run every subsystem's local scenario on the stand-ins and print a report
	target/debug/sluice-demo

# Reads what `make demo` left in target/demo-output/ (the delivery streams' S3 layout).
query-check: tools ## The template's Glue tables and Athena named queries: Trino SQL (sqlglot), run on the demo's output (DuckDB)
	.tools/query/bin/python tests/queries/check.py

bench: tools ## Benchmarks: cold start, RDS log sync and DAS end to end through moto (release binaries behind the Lambda host), then criterion; prints medians and ratios
	cargo build --release --locked $(addprefix -p ,$(FUNCTIONS))
	cargo bench --locked -p sluice-testbed --bench cold_start
	cargo bench --locked -p log-syncer --bench moto_sync
	cargo bench --workspace --locked

fuzz: ## Fuzz the Encryption SDK parser for a bounded time (FUZZ_SECONDS, default 60)
	bash crates/esdk/fuzz/run.sh $${FUZZ_SECONDS:-60}

sam-build: tools ## sam build (cargo-lambda build method)
	$(AWS_OFFLINE) sam build --beta-features

clean: ## Remove build output (keeps .tools)
	cargo clean
	rm -rf .aws-sam
