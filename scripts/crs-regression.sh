#!/usr/bin/env bash
# OWASP CRS v4's own regression suite (go-ftw YAML, 5,003 tests in v4.28.0)
# through a real Envoy + palisade.wasm + CRS compiled at paranoia level 4 in
# detection-only mode, with CRS's test settings (tests/crs/crs-test-settings.conf)
# and the Envoy overrides (tests/crs/overrides.yaml, a reason each).
# Prints every failure, a per-file table and `N passed, M failed`; exits
# non-zero below 99%. The report goes to target/crs-regression/.
#
# CRS is test data, never part of this repository: point PALISADE_CRS at a
# CRS checkout or release (default ../shared/crs from the project root).
set -euo pipefail
cd "$(dirname "$0")/.."

CRS="${PALISADE_CRS:-../shared/crs}"
OUT=target/crs-regression
if [ ! -d "$CRS/rules" ] || [ ! -d "$CRS/tests/regression/tests" ]; then
    echo "crs-regression: no CRS checkout with rules/ and tests/regression/tests/ at $CRS (set PALISADE_CRS)" >&2
    exit 2
fi

scripts/setup.sh
cargo build --release --target wasm32-wasip1 -p palisade-filter
# Debug builds of the tools: they share the test command's build, and the
# runner's speed is Envoy's, not theirs.
cargo build -p palisade-rules --bin palisade
cargo build -p palisade-e2e --bin palisade-ftw --bin palisade-upstream

mkdir -p "$OUT"
start=$(date +%s%N)
target/debug/palisade compile --seclang "$CRS/crs-setup.conf.example" \
    tests/crs/crs-test-settings.conf "$CRS"/rules/*.conf -o "$OUT/crs.ruleset" 2>"$OUT/compile.log"
echo "compiled CRS in $(( ($(date +%s%N) - start) / 1000000 )) ms: $(stat -c %s "$OUT/crs.ruleset") bytes"

echo '{"mode": "detect", "paranoia_level": 4}' >"$OUT/config.json"
target/debug/palisade-ftw --ruleset "$OUT/crs.ruleset" --config "$OUT/config.json" \
    --tests "$CRS/tests/regression/tests" --overrides tests/crs/overrides.yaml \
    --report "$OUT/report.json" --min-pass-percent 99 "$@" | tee "$OUT/summary.txt"
