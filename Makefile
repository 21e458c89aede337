# Veriphy Jobs — developer entry points. See README.md.
#
# Cargo artifacts live outside the checkout so clean clones (CI) reuse them.
export CARGO_TARGET_DIR ?= /var/cache/veriphy-jobs/target
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: run run-demo setup build test test-rust test-e2e lint fmt load-demo clean-data

## Build and serve the console at http://127.0.0.1:3000 (LEPTOS_SITE_ADDR), embedded PostgreSQL under ./data.
run: setup
	cargo leptos serve

## Like run, with the demo organizations loaded first.
run-demo: setup
	cargo leptos build && LEPTOS_SITE_ROOT=target/site $(CARGO_TARGET_DIR)/debug/veriphy-jobs serve --demo

## Install toolchain pieces that are missing (idempotent).
setup:
	@mkdir -p $(CARGO_TARGET_DIR) 2>/dev/null || true
	@./scripts/setup.sh

build: setup
	cargo leptos build

## Everything CI runs: format, lints, unit + integration tests, browser tests.
test: setup lint test-rust test-e2e

lint:
	cargo fmt --check
	cargo clippy --features ssr --all-targets -- -D warnings
	cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings

test-rust:
	cargo test --features ssr

test-e2e:
	./scripts/e2e.sh

fmt:
	cargo fmt

load-demo: setup
	cargo build --features ssr --bin veriphy-jobs && $(CARGO_TARGET_DIR)/debug/veriphy-jobs load-demo

## Remove the embedded database (all local data), including a cluster kept
## under /var/lib/veriphy-jobs because the postgres user could not reach it.
VERIPHY_DATA_DIR ?= data
clean-data:
	@home=$$(cat "$(VERIPHY_DATA_DIR)/cluster-location" 2>/dev/null || true); \
	case "$$home" in /var/lib/veriphy-jobs/?*) echo "rm -rf $$home"; rm -rf "$$home";; esac
	rm -rf "$(VERIPHY_DATA_DIR)"
