#!/usr/bin/env bash
# Builds palisade.wasm and runs a protected Envoy edge gateway on loopback:
#   Envoy listener  127.0.0.1:${PALISADE_PORT:-8080}  (Palisade, built-in rules)
#   upstream        127.0.0.1:${PALISADE_UPSTREAM_PORT:-8081}  (a small echo server)
#   Envoy admin     127.0.0.1:${PALISADE_ADMIN_PORT:-9901}
# The policy is envoy-config/palisade.json unless PALISADE_CONFIG names another
# JSON file. PALISADE_RULESET names a ruleset artifact (`palisade compile`,
# e.g. OWASP CRS) to use instead of the built-in rules: it is inlined into the
# policy as `ruleset_base64`. Ctrl-C stops Envoy and the upstream.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PALISADE_PORT:-8080}"
UPSTREAM_PORT="${PALISADE_UPSTREAM_PORT:-8081}"
ADMIN_PORT="${PALISADE_ADMIN_PORT:-9901}"
CONFIG="${PALISADE_CONFIG:-envoy-config/palisade.json}"
RULESET="${PALISADE_RULESET:-}"

scripts/setup.sh
cargo build --release --target wasm32-wasip1 -p palisade-filter
cargo build --release -p palisade-e2e --bin palisade-upstream

WASM="$PWD/target/wasm32-wasip1/release/palisade.wasm"
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/palisade-gateway.XXXXXX")"
BOOTSTRAP="$RUN_DIR/envoy.yaml"

# The plugin configuration goes into the bootstrap as a JSON string literal;
# python validates the policy file's JSON on the way.
python3 - "$CONFIG" "$PORT" "$ADMIN_PORT" "$UPSTREAM_PORT" "$WASM" \
    envoy-config/gateway.yaml "$BOOTSTRAP" "$RULESET" <<'PY'
import base64, json, sys
config, port, admin, upstream, wasm, template, out, ruleset = sys.argv[1:]
with open(config) as f:
    policy = json.load(f)
if ruleset:
    with open(ruleset, "rb") as f:
        policy["ruleset_base64"] = base64.b64encode(f.read()).decode()
text = open(template).read()
for key, value in {
    "LISTEN_PORT": port,
    "ADMIN_PORT": admin,
    "UPSTREAM_PORT": upstream,
    "WASM_PATH": json.dumps(wasm),
    "PLUGIN_CONFIG": json.dumps(json.dumps(policy)),
}.items():
    text = text.replace("{{" + key + "}}", value)
open(out, "w").write(text)
PY

target/release/palisade-upstream --port "$UPSTREAM_PORT" --max-seconds 86400 &
UPSTREAM_PID=$!
trap 'kill "$UPSTREAM_PID" 2>/dev/null || true; rm -rf "$RUN_DIR"' EXIT INT TERM

echo "palisade: Envoy on http://127.0.0.1:$PORT (admin 127.0.0.1:$ADMIN_PORT, upstream 127.0.0.1:$UPSTREAM_PORT, policy $CONFIG${RULESET:+, ruleset $RULESET})" >&2
envoy -c "$BOOTSTRAP" --concurrency 1 --base-id "$PORT" \
    --log-level warn --component-log-level wasm:info
