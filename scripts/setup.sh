#!/usr/bin/env bash
# Installs what building and testing Veriphy Jobs needs, idempotently, using
# only the package registries (crates.io, npm, Debian). Safe to re-run: each
# step checks first and says what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else say "need root for: $*"; return 1; fi; }

LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=$(grep -E '^wasm-bindgen = \{ version = "=' Cargo.toml | sed -E 's/.*"=([0-9.]+)".*/\1/')
APT_UPDATED=0
apt_install() {
  if [[ $APT_UPDATED == 0 ]]; then
    say "refreshing Debian package lists"
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  say "installing Debian packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown Rust target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$LEPTOS_VERSION"; then
  say "building cargo-leptos $LEPTOS_VERSION (no_downloads); this takes about 11 minutes on 2 cores"
  cargo install cargo-leptos --version "$LEPTOS_VERSION" --locked --features no_downloads
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  say "building wasm-bindgen-cli $WASM_BINDGEN_VERSION (matches the pinned wasm-bindgen)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# The embedded default runs the machine's PostgreSQL server binaries.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  apt_install postgresql
fi
# As root the embedded cluster runs as the 'postgres' system user.
if [[ $(id -u) == 0 ]] && ! id postgres >/dev/null 2>&1; then
  apt_install postgresql
fi

if [[ ! -x /usr/bin/chromium ]]; then
  apt_install chromium
fi

if [[ ! -d end2end/node_modules/@playwright/test ]] || [[ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]]; then
  say "installing Playwright (npm ci, no browser download)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

say "toolchain ready"
