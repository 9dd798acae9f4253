#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and fails on any crash, timeout
# or out-of-memory. Usage: fuzz/run.sh [SECONDS_PER_TARGET] (default 15).
# Needs the nightly toolchain; installs cargo-fuzz if it is missing.
set -u
cd "$(dirname "$0")"
secs="${1:-15}"
case "$secs" in ''|*[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2;; esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked || exit 1
fi
cargo +nightly fuzz build -O || exit 1

targets=$(cargo +nightly fuzz list)
mkdir -p .run
failed=()
for t in $targets; do
    # New inputs go to a scratch corpus, so a run never rewrites the
    # committed seeds (fuzz/corpus/<target>/ is read-only input here).
    scratch=".run/corpus-$t"
    mkdir -p "$scratch" "artifacts/$t"
    log=".run/$t.log"
    start=$(date +%s)
    # -max_total_time stops the run; timeout(1) is a backstop if a target
    # wedges in set-up. --exit-code... : libFuzzer exits non-zero on crash,
    # timeout (-timeout, seconds per input) and oom (-rss_limit_mb).
    timeout --kill-after=10 $((secs + 120)) \
        cargo +nightly fuzz run -O "$t" "$scratch" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    if [ "$rc" -eq 0 ]; then
        printf '%-16s ok    %4ss  %s execs\n' "$t" "$took" "${execs:-?}"
    else
        kind=$(grep -oE 'ERROR: libFuzzer: [a-z-]+|deadly signal|panicked at' "$log" | head -1)
        printf '%-16s FAIL  %4ss  rc=%s %s\n' "$t" "$took" "$rc" "${kind:-see $log}"
        grep -E '^(thread .* panicked|artifact_prefix|Test unit written)' "$log" | sed 's/^/    /'
        failed+=("$t")
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "failed: ${failed[*]} (logs in fuzz/.run/, inputs in fuzz/artifacts/)"
    exit 1
fi
echo "all targets ran ${secs}s without a crash"
