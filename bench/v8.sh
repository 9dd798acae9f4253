#!/usr/bin/env bash
# The engine alone, natively and compiled to wasm in V8 (Node.js's WASI),
# on the same ruleset and mix: the quiet way to see what an engine change
# does where it runs in production, without Envoy's run-to-run noise.
#
#   bench/v8.sh [--crs DIR] [--cpu-prof DIR] [--against OLD.wasm] [palisade-engine-loop arguments]
#   bench/v8.sh --mix json4k
#   bench/v8.sh --crs ../shared/crs --config '{"paranoia_level": 1}' --mix get
#   bench/v8.sh --cpu-prof target/v8-prof --mix get --requests 20000 --rounds 3
#   bench/v8.sh --against /tmp/old/target/wasm32-wasip1/release/palisade-engine-loop.wasm \
#       --crs ../shared/crs --config '{"paranoia_level": 1}' --mix get --requests 2000 --rounds 5
#
# --against compares two builds of the loop in V8 instead of native against
# V8: OLD.wasm (built from another commit in its own worktree and target
# directory, `CARGO_TARGET_DIR=/tmp/old/target cargo build --release
# --target wasm32-wasip1 -p palisade-bench --bin palisade-engine-loop`)
# and this tree's, three rounds, the new one first in the second, on the
# ruleset this tree compiles (an old loop that cannot read it says so).
# bench/README.md's V8 before/after tables are made this way.
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
against=""
while [[ "${1:-}" == "--crs" || "${1:-}" == "--cpu-prof" || "${1:-}" == "--against" ]]; do
    case "$1" in
        --crs) crs="${2:?--crs needs a directory}" ;;
        --cpu-prof) profile=(--cpu-prof --cpu-prof-dir="${2:?--cpu-prof needs a directory}") ;;
        --against) against=$(realpath "${2:?--against needs a module}") ;;
    esac
    shift 2
done
if [[ -n "$against" && ! -f "$against" ]]; then
    echo "bench/v8.sh: --against: no module at $against" >&2
    exit 2
fi
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

# TurboFan from the start, as Envoy runs it (proxy-wasm's V8 turns Liftoff
# off); one thread, because Node 20 segfaulted at exit after the CRS runs
# when V8's background threads were still at work (the loop itself had
# finished and printed).
in_v8() {
    node --no-warnings --no-liftoff --single-threaded "${profile[@]}" "$work/run.js" "$1" "$work" \
        --ruleset /work/ruleset "${@:2}"
}
new="$target/wasm32-wasip1/release/palisade-engine-loop.wasm"
if [[ -n "$against" ]]; then
    for round in 1 2 3; do
        order=(old new)
        [[ $round -eq 2 ]] && order=(new old)
        for which in "${order[@]}"; do
            echo -n "round $round $which: "
            if [[ $which == old ]]; then in_v8 "$against" "$@"; else in_v8 "$new" "$@"; fi
        done
    done
    exit 0
fi
echo -n "native: "
"$target/release/palisade-engine-loop" --ruleset "$work/ruleset" "$@"
echo -n "V8:     "
in_v8 "$new" "$@"
