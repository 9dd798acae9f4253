#!/usr/bin/env bash
# The native benchmark: builds palisade.wasm, the null filter, the upstream
# and the runner, then measures Envoy without a filter, with the null filter
# and with Palisade, for every request mix, at a fixed rate and at
# saturation. Writes bench/results/latest.{md,json} and latency.png.
# Arguments are passed to palisade-bench (see `--help`), e.g.
#   bench/run.sh --duration 5 --mix get --mix json4k
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --release --target wasm32-wasip1 -p palisade-filter -p palisade-null-filter
cargo build --release -p palisade-e2e --bin palisade-upstream
cargo build --release -p palisade-bench --bin palisade-bench

target/release/palisade-bench "$@"

if python3 -c 'import matplotlib' 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check matplotlib; then
    python3 bench/plot.py bench/results/latest.json bench/results/latency.png
else
    echo "bench: matplotlib unavailable, no plot" >&2
fi
