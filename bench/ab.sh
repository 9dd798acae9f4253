#!/usr/bin/env bash
# Module against module in Envoy: two builds of palisade.wasm measured by
# the same runner, three rounds, the new one first in the second round.
# Envoy's figures drift by 5–25% from run to run on this 2-core machine and
# favour whichever module runs first, so only a difference that holds in
# every round counts (bench/README.md quotes such comparisons).
#
#   bench/ab.sh OLD.wasm NEW.wasm [palisade-bench arguments]
#   bench/ab.sh /tmp/old.wasm target/wasm32-wasip1/release/palisade.wasm --mix get --config builtin
#
# Build the old module from its own worktree and target directory
# (`git worktree add /tmp/old COMMIT`, then `CARGO_TARGET_DIR=/tmp/old/target
# cargo build --release --target wasm32-wasip1 -p palisade-filter`): a
# shared target directory can keep a stale engine build. Prints each
# round's saturation lines (requests per second, Envoy CPU per request).
set -euo pipefail

usage="usage: bench/ab.sh OLD.wasm NEW.wasm [palisade-bench arguments]"
for module in "${1:?$usage}" "${2:?$usage}"; do
    [[ -f "$module" ]] || { echo "bench/ab.sh: no module at $module" >&2; exit 2; }
done
# Absolute (before changing directory): Envoy is given the path in its
# configuration.
old=$(realpath "$1")
new=$(realpath "$2")
shift 2
cd "$(dirname "$0")/.."
args=("$@")
if [[ ${#args[@]} -eq 0 ]]; then
    args=(--duration 3 --mix get --mix json4k --config builtin --config crs-pl1)
fi

scripts/setup.sh
cargo build --release --target wasm32-wasip1 -p palisade-null-filter
cargo build --release -p palisade-e2e --bin palisade-upstream
cargo build --release -p palisade-bench --bin palisade-bench

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for round in 1 2 3; do
    order=(old new)
    [[ $round == 2 ]] && order=(new old)
    for name in "${order[@]}"; do
        module=$old
        [[ $name == new ]] && module=$new
        log="$work/$name-$round.log"
        if ! target/release/palisade-bench --module "$module" --out "$work/$name-$round" \
            "${args[@]}" >"$log" 2>&1; then
            cat "$log" >&2
            exit 1
        fi
        grep Saturation "$log" | sed "s/^/round $round $name: /"
    done
done
