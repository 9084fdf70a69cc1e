# sms-gateway. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help run test lint fmt unit bench bench-costs bench-peers openapi migrate build release clean postman validate-deploy loadtest-smoke fuzz browser screenshots

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: ## Build, start the gateway on :8080 and send a first SMS end to end (Ctrl-C stops)
	@scripts/run.sh

test: lint ## Everything CI checks: fmt, clippy, unit/integration tests, Postman via newman, schemathesis, the console in chromium, deploy files, load-test smoke
	@eval "$$(scripts/services.sh test)" && \
	  echo "test: DATABASE_URL=$${DATABASE_URL%%\?*} AMQP_URL=$${AMQP_URL//:*@/:***@}" && \
	  $(CARGO) nextest run --workspace --all-targets --no-fail-fast --profile ci
	@echo "test: doc tests" && $(CARGO) test --workspace --doc --quiet
	@SMS_GATEWAY_BIN="$${CARGO_TARGET_DIR:-target}/debug/sms-gateway" $(MAKE) --no-print-directory postman
	@SMS_GATEWAY_BIN="$${CARGO_TARGET_DIR:-target}/debug/sms-gateway" $(MAKE) --no-print-directory fuzz
	@SMS_GATEWAY_BIN="$${CARGO_TARGET_DIR:-target}/debug/sms-gateway" $(MAKE) --no-print-directory browser
	@$(MAKE) --no-print-directory validate-deploy
	@$(MAKE) --no-print-directory loadtest-smoke

postman: ## Check the collection is built from the OpenAPI snapshot, run it with newman against a gateway it starts (then promtool on its scrape)
	@scripts/postman.sh

fuzz: ## schemathesis (as a customer and as the admin) against a gateway it starts; fails on any finding
	@scripts/fuzz.sh

browser: ## The web console's tests in chromium (playwright-core) against a gateway it starts
	@scripts/browser-tests.sh

screenshots: ## The browser tests, saving the screenshots of docs/console/
	@SCREENSHOTS_DIR=docs/console scripts/browser-tests.sh

loadtest-smoke: ## A 5 s run of sms-loadtest against a gateway it starts (keeps the CLI from rotting)
	@scripts/loadtest-smoke.sh

validate-deploy: ## Static checks of Dockerfile, compose, deploy/ (hadolint, yamllint, kubernetes-validate, docker-compose config, promtool)
	@scripts/validate-deploy.sh

lint: ## cargo fmt --check, clippy -D warnings, and the module layering (no cycle, no arrow up)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@python3 scripts/module-layers.py

fmt: ## Format the code
	$(CARGO) fmt --all

bench: ## Benchmarks of docs/BENCHMARKS.md (long; needs the services)
	@scripts/bench.sh

bench-costs: ## What one delivered SMS costs the database, statement by statement (own MariaDB with performance_schema; a few minutes)
	@scripts/bench/costs.sh

bench-peers: ## Kannel (installed from Debian) and the gateway side by side, the same 1-recipient load flat out and at a fixed rate (a few minutes)
	@scripts/bench/peers.sh

openapi: ## Accept the current OpenAPI document as the snapshot
	INSTA_UPDATE=always $(CARGO) nextest run --test api -E 'test(openapi_matches_the_snapshot)'

migrate: ## Create the database if needed and apply migrations
	@eval "$$(scripts/services.sh sms_gateway)" && $(CARGO) run --quiet -- migrate

build: ## Debug build
	$(CARGO) build --workspace

release: ## Release build
	$(CARGO) build --workspace --release

clean:
	$(CARGO) clean
