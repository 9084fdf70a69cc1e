# sms-gateway. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help run test lint fmt unit bench openapi migrate build release clean

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: ## Build, start the gateway on :8080 and send a first SMS end to end (Ctrl-C stops)
	@scripts/run.sh

test: lint ## Everything CI checks: fmt, clippy, unit and integration tests (real MariaDB/MySQL and RabbitMQ)
	@eval "$$(scripts/services.sh test)" && \
	  echo "test: DATABASE_URL=$${DATABASE_URL%%\?*} AMQP_URL=$${AMQP_URL//:*@/:***@}" && \
	  $(CARGO) nextest run --workspace --all-targets --no-fail-fast --profile ci
	@echo "test: doc tests" && $(CARGO) test --workspace --doc --quiet

lint: ## cargo fmt --check and clippy -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

bench: ## Benchmarks of docs/BENCHMARKS.md (long; needs the services)
	@scripts/bench.sh

openapi: ## Accept the current OpenAPI document as the snapshot
	UPDATE_SNAPSHOTS=1 $(CARGO) nextest run --test api openapi

migrate: ## Create the database if needed and apply migrations
	@eval "$$(scripts/services.sh sms_gateway)" && $(CARGO) run --quiet -- migrate

build: ## Debug build
	$(CARGO) build --workspace

release: ## Release build
	$(CARGO) build --workspace --release

clean:
	$(CARGO) clean
