#!/usr/bin/env bash
# The engine alone, natively and compiled to wasm in V8 (Node.js's WASI),
# on the same ruleset and mix: the quiet way to see what an engine change
# does where it runs in production, without Envoy's run-to-run noise.
#
#   bench/v8.sh [--crs DIR] [--cpu-prof DIR] [palisade-engine-loop arguments]
#   bench/v8.sh --mix json4k
#   bench/v8.sh --crs ../shared/crs --config '{"paranoia_level": 1}' --mix get
#   bench/v8.sh --cpu-prof target/v8-prof --mix get --requests 20000 --rounds 3
#
# Built-in rules unless --crs names a CRS checkout (crs-setup.conf.example
# and rules/*.conf are compiled). --cpu-prof writes V8's CPU profile of the
# wasm run there (a .cpuprofile: Chrome DevTools' Performance panel shows
# it, "Bottom-Up" gives each function's self time). Needs node 18 or later (scripts/setup.sh
# installs Debian's nodejs). Nothing is sent anywhere: the loop calls the
# engine directly.
set -euo pipefail
cd "$(dirname "$0")/.."

crs=""
profile=()
while [[ "${1:-}" == "--crs" || "${1:-}" == "--cpu-prof" ]]; do
    case "$1" in
        --crs) crs="${2:?--crs needs a directory}" ;;
        --cpu-prof) profile=(--cpu-prof --cpu-prof-dir="${2:?--cpu-prof needs a directory}") ;;
    esac
    shift 2
done
scripts/setup.sh
cargo build --release -p palisade-rules --bin palisade
cargo build --release -p palisade-bench --bin palisade-engine-loop
cargo build --release --target wasm32-wasip1 -p palisade-bench --bin palisade-engine-loop

target="${CARGO_TARGET_DIR:-target}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ -n "$crs" ]]; then
    "$target/release/palisade" compile --seclang "$crs/crs-setup.conf.example" "$crs"/rules/*.conf \
        -o "$work/ruleset" >/dev/null
else
    "$target/release/palisade" compile rules/builtin -o "$work/ruleset" >/dev/null
fi

# A WASI host for the loop: the ruleset's directory is the only one it sees.
cat >"$work/run.js" <<'JS'
const { WASI } = require('node:wasi');
const fs = require('node:fs');
const [wasm, dir, ...args] = process.argv.slice(2);
const wasi = new WASI({
    version: 'preview1',
    args: ['palisade-engine-loop', ...args],
    preopens: { '/work': dir },
    returnOnExit: true,
});
WebAssembly.compile(fs.readFileSync(wasm))
    .then((module) => WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport }))
    .then((instance) => process.exit(wasi.start(instance)));
JS

echo -n "native: "
"$target/release/palisade-engine-loop" --ruleset "$work/ruleset" "$@"
echo -n "V8:     "
# TurboFan from the start, as Envoy runs it (proxy-wasm's V8 turns Liftoff
# off); one thread, because Node 20 segfaulted at exit after the CRS runs
# when V8's background threads were still at work (the loop itself had
# finished and printed).
node --no-warnings --no-liftoff --single-threaded "${profile[@]}" "$work/run.js" "$target/wasm32-wasip1/release/palisade-engine-loop.wasm" "$work" \
    --ruleset /work/ruleset "$@"
