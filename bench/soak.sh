#!/usr/bin/env bash
# The soak run: one million mixed requests (mostly GETs, some JSON, form and
# upload posts, attacks) through Envoy + palisade.wasm on loopback, sampling
# Envoy's RSS and the VM's memory. Exits non-zero when the RSS grows more
# than 5% after the warm-up, or the VM more than 5% or 512 KiB, whichever
# is larger (`--max-vm-growth-kib` says why). Bounded: stops after --max-seconds (900) even
# if not every request was sent. Arguments go to palisade-soak (`--help`),
# e.g.  bench/soak.sh --requests 200000 --ruleset crs
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --release --target wasm32-wasip1 -p palisade-filter
cargo build --release -p palisade-e2e --bin palisade-upstream
cargo build --release -p palisade-bench --bin palisade-soak

target/release/palisade-soak "$@"
