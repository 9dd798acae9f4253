#!/usr/bin/env bash
# Runs every test: engine and rule unit tests, case files, the built-in rule
# set's own tests, and the end-to-end tests that drive the real palisade.wasm
# in a real Envoy on 127.0.0.1. Installs what it needs first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# The end-to-end tests load this artifact into Envoy; building it first keeps
# the tests' own (cheap, no-op) rebuild from racing for the cargo lock.
cargo build --release --target wasm32-wasip1 -p palisade-filter
cargo run --quiet -p palisade-rules --bin palisade -- test --require-tests rules/builtin
cargo test --workspace --no-fail-fast

# The engine compiled to wasm, in V8 (Node.js): every mix runs without a trap,
# with the built-in rules and, where a CRS checkout is (the regression run
# needs one too), with CRS.
for mix in get json4k multipart64k args50 attacks; do
    bench/v8.sh --mix "$mix" --requests 20 --rounds 1
done
CRS="${PALISADE_CRS:-../shared/crs}"
if [ -d "$CRS/rules" ]; then
    bench/v8.sh --crs "$CRS" --config '{"paranoia_level": 4}' --mix attacks --requests 20 --rounds 1
fi

# The two-build V8 comparison works end to end (this tree's loop against
# itself, a few requests; figures not judged).
bench/v8.sh --against target/wasm32-wasip1/release/palisade-engine-loop.wasm --mix get --requests 20 --rounds 1

# The module-against-module runner works end to end (same module twice,
# one mix, one second per load: about half a minute; figures not judged).
bench/ab.sh target/wasm32-wasip1/release/palisade.wasm target/wasm32-wasip1/release/palisade.wasm \
    --duration 1 --mix get --config builtin

# The same end-to-end tests on the oldest Envoy we claim (about a minute).
scripts/envoy-compat.sh
