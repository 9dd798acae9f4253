#!/usr/bin/env bash
# Packages palisade.wasm as an OCI image that Istio's WasmPlugin can pull
# (`url: oci://...`), without a Docker engine: writes an OCI image layout
# directory and an `oci-archive` tarball of it, byte-for-byte reproducible
# for a given wasm file (fixed timestamps, owners and JSON key order).
#
# Format: the *compat* variant of the Wasm image spec
# (github.com/solo-io/wasm, spec/spec-compat.md), which Istio's image fetcher
# (pkg/wasm/imagefetcher.go) accepts with a single layer: the layer is
# `application/vnd.oci.image.layer.v1.tar+gzip` holding one file,
# `plugin.wasm`, and the manifest carries `module.wasm.image/variant: compat`.
# (The *oci* variant, layer `application/vnd.module.wasm.content.layer.v1+wasm`
# with config `application/vnd.module.wasm.config.v1+json`, is rejected by
# Istio unless the image has exactly two layers.)
#
# Usage: scripts/oci-package.sh [--wasm FILE] [--out DIR] [--tag TAG]
#   --wasm  the module (default target/wasm32-wasip1/release/palisade.wasm;
#           build it first: cargo build --release --target wasm32-wasip1 -p palisade-filter)
#   --out   the layout directory to (re)create (default target/oci/palisade);
#           the archive is written next to it as DIR.tar
#   --tag   the tag recorded in index.json (default: the workspace version)
#
# Prints the manifest digest (the value for WasmPlugin `sha256` with an
# oci:// url) and the wasm module's sha256 (the value for http(s):// urls).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
wasm="$root/target/wasm32-wasip1/release/palisade.wasm"
out="$root/target/oci/palisade"
tag=""

while [ $# -gt 0 ]; do
    case "$1" in
        --wasm) wasm="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --tag) tag="$2"; shift 2 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "oci-package.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ ! -f "$wasm" ]; then
    echo "oci-package.sh: $wasm not found; build it with" >&2
    echo "  cargo build --release --target wasm32-wasip1 -p palisade-filter" >&2
    exit 1
fi
if [ -z "$tag" ]; then
    tag="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)"
fi

exec python3 - "$wasm" "$out" "$tag" <<'PY'
import gzip, hashlib, io, json, os, shutil, sys, tarfile

wasm_path, out, tag = sys.argv[1], sys.argv[2], sys.argv[3]
with open(wasm_path, "rb") as f:
    wasm = f.read()
if wasm[:4] != b"\0asm":
    sys.exit(f"oci-package.sh: {wasm_path} is not a WebAssembly module")

def canonical(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()

def fixed_tar(entries):
    """A tar with fixed metadata, so the same input gives the same bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()

if os.path.exists(out):
    shutil.rmtree(out)
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)

def blob(media_type, data, annotations=None):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    d = {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}
    if annotations:
        d["annotations"] = annotations
    return d

layer_tar = fixed_tar([("plugin.wasm", wasm)])
layer_gz = gzip.compress(layer_tar, compresslevel=9, mtime=0)
layer = blob("application/vnd.oci.image.layer.v1.tar+gzip", layer_gz,
             {"org.opencontainers.image.title": "plugin.wasm"})
config = blob("application/vnd.oci.image.config.v1+json", canonical({
    "architecture": "wasm",
    "os": "wasip1",
    "config": {},
    "rootfs": {"type": "layers",
               "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
}))
manifest = blob("application/vnd.oci.image.manifest.v1+json", canonical({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": config,
    "layers": [layer],
    "annotations": {
        "module.wasm.image/variant": "compat",
        "org.opencontainers.image.title": "palisade",
        "org.opencontainers.image.version": tag,
    },
}), {"org.opencontainers.image.ref.name": tag})

index = canonical({"schemaVersion": 2,
                   "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": [manifest]})
layout = canonical({"imageLayoutVersion": "1.0.0"})
with open(os.path.join(out, "index.json"), "wb") as f:
    f.write(index)
with open(os.path.join(out, "oci-layout"), "wb") as f:
    f.write(layout)

# The oci-archive: the layout's files at the tar's root, sorted.
entries = [("oci-layout", layout), ("index.json", index)]
for name in sorted(os.listdir(blobs)):
    with open(os.path.join(blobs, name), "rb") as f:
        entries.append(("blobs/sha256/" + name, f.read()))
archive = out.rstrip("/") + ".tar"
with open(archive, "wb") as f:
    f.write(fixed_tar(entries))

print(f"layout:          {out}")
print(f"archive:         {archive}")
print(f"tag:             {tag}")
print(f"manifest digest: {manifest['digest']}")
print(f"wasm sha256:     {hashlib.sha256(wasm).hexdigest()}")
PY
