//! The Istio deliverables under `istio/` hold: every `WasmPlugin` manifest
//! is valid against the schema written from Istio's API reference, its
//! `pluginConfig` is accepted by the real filter in a real Envoy and does
//! what its mode says, and `scripts/oci-package.sh` writes an OCI image
//! layout Istio's image fetcher can read (Wasm image *compat* variant).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use palisade_e2e::{wasm_path, workspace_root, Gateway, Request};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

const UPSTREAM: &str = env!("CARGO_BIN_EXE_palisade-upstream");

/// One `WasmPlugin` document: the file it came from and its JSON form.
struct Manifest {
    origin: String,
    doc: Value,
}

fn istio_dir() -> PathBuf {
    workspace_root().join("istio")
}

/// Every YAML document of every `.yaml` / `.yml` file under `istio/`.
fn manifests() -> Vec<Manifest> {
    let mut files: Vec<PathBuf> = fs::read_dir(istio_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (i, de) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
            let doc = Value::deserialize(de).unwrap_or_else(|e| panic!("{name} #{i}: {e}"));
            assert!(!doc.is_null(), "{name} #{i}: empty YAML document");
            out.push(Manifest {
                origin: format!("{name} #{i} ({})", doc["metadata"]["name"]),
                doc,
            });
        }
    }
    assert!(
        out.len() >= 8,
        "expected the manifests listed in istio/README.md, found {}",
        out.len()
    );
    out
}

fn schema() -> jsonschema::Validator {
    let path = istio_dir().join("wasmplugin.schema.json");
    let schema: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn every_manifest_matches_the_wasmplugin_schema() {
    let validator = schema();
    for m in manifests() {
        let errors: Vec<String> = validator
            .iter_errors(&m.doc)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", m.origin);
        // A digest in the url and `sha256` must agree (Istio refuses the
        // plugin otherwise); the schema cannot compare two fields.
        let spec = &m.doc["spec"];
        let url = spec["url"].as_str().unwrap();
        if let (Some((_, digest)), Some(sha)) =
            (url.split_once("@sha256:"), spec["sha256"].as_str())
        {
            assert_eq!(digest, sha, "{}: url digest and sha256 differ", m.origin);
        }
    }
}

/// A change that makes a manifest invalid for Istio.
type Mutation = fn(&mut Value);

#[test]
fn the_schema_refuses_what_istio_refuses() {
    let validator = schema();
    let good = manifests().remove(0).doc;
    let mutations: [(&str, Mutation); 7] = [
        ("unknown spec field", |d| {
            d["spec"]["failurePolicy"] = "FAIL_CLOSE".into()
        }),
        ("bad phase", |d| d["spec"]["phase"] = "FIRST".into()),
        ("bad failStrategy", |d| {
            d["spec"]["failStrategy"] = "FAIL_CLOSED".into()
        }),
        ("no url", |d| {
            d["spec"].as_object_mut().unwrap().remove("url");
        }),
        ("short sha256", |d| d["spec"]["sha256"] = "abc".into()),
        ("selector and targetRefs", |d| {
            d["spec"]["targetRefs"] = serde_json::json!([{"kind": "Gateway", "name": "g"}]);
        }),
        ("wrong kind", |d| d["kind"] = "EnvoyFilter".into()),
    ];
    assert!(validator.is_valid(&good));
    for (what, mutate) in mutations {
        let mut doc = good.clone();
        mutate(&mut doc);
        assert!(!validator.is_valid(&doc), "schema accepted: {what}");
    }
}

/// Does the policy block (as opposed to detect)? Mirrors the filter's
/// default: no `mode` means `block`.
fn blocks(config: &Value) -> bool {
    config
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("block")
        == "block"
}

#[test]
fn every_plugin_config_runs_in_envoy() {
    let attack = "/?q=%3Cscript%3Ealert(1)%3C/script%3E";
    let mut seen_modes = BTreeSet::new();
    for m in manifests() {
        let config = &m.doc["spec"]["pluginConfig"];
        assert!(config.is_object(), "{}: no pluginConfig", m.origin);
        let gw = Gateway::start(UPSTREAM, config)
            .unwrap_or_else(|e| panic!("{}: Envoy refused the pluginConfig: {e}", m.origin));
        let plain = gw.send(&Request::get("/products?page=2")).unwrap();
        assert_eq!(plain.status, 200, "{}: plain GET not proxied", m.origin);
        let resp = gw.send(&Request::get(attack)).unwrap();
        let block = blocks(config);
        seen_modes.insert(block);
        if block {
            let status = config
                .get("block_status")
                .and_then(Value::as_u64)
                .unwrap_or(403);
            assert_eq!(u64::from(resp.status), status, "{}: attack", m.origin);
        } else {
            assert_eq!(resp.status, 200, "{}: detect mode blocked", m.origin);
            // Detection still reports: `log: matched` writes the verdict.
            assert!(
                gw.wait_for_log("palisade-verdict", std::time::Duration::from_secs(5))
                    .is_some(),
                "{}: no verdict logged in detect mode; log:\n{}",
                m.origin,
                gw.log()
            );
        }
    }
    assert_eq!(seen_modes.len(), 2, "manifests cover block and detect");
}

#[test]
fn per_host_exclusions_apply_only_to_their_host() {
    let m = manifests()
        .into_iter()
        .find(|m| m.origin.starts_with("per-host-policy.yaml"))
        .unwrap();
    let gw = Gateway::start(UPSTREAM, &m.doc["spec"]["pluginConfig"]).unwrap();
    let xss = "/admin/edit?body=%3Cscript%3Ealert(1)%3C/script%3E";
    let on = |host: &str, path: &str| {
        gw.send(&Request::get(path).header("host", host))
            .unwrap()
            .status
    };
    assert_eq!(on("cms.example.com", xss), 200, "excluded host and path");
    assert_eq!(on("CMS.example.com:8443", xss), 200, "host case and port");
    assert_eq!(on("shop.example.com", xss), 403, "other host");
    let outside = "/blog?body=%3Cscript%3Ealert(1)%3C/script%3E";
    assert_eq!(on("cms.example.com", outside), 403, "other path");
    assert_eq!(on("legacy.example.com", outside), 200, "legacy host");
    // `policies`: the API host only detects; its verdict line names the policy.
    let resp = gw
        .send(
            &Request::get(outside)
                .header("host", "api.example.com")
                .header("x-request-id", "istio-api-rollout"),
        )
        .unwrap();
    assert_eq!(resp.status, 200, "api host is in detect mode");
    let verdict = gw.verdict("istio-api-rollout").unwrap();
    assert_eq!(verdict["event"], "detected", "{verdict}");
    assert_eq!(verdict["policy"], "api-rollout", "{verdict}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
}

#[test]
fn oci_package_writes_a_wasm_image_istio_can_pull() {
    let wasm_file = wasm_path().unwrap();
    let wasm = fs::read(&wasm_file).unwrap();
    let tmp = std::env::temp_dir().join(format!("palisade-oci-{}", std::process::id()));
    let layout = tmp.join("palisade");
    let out = Command::new(workspace_root().join("scripts/oci-package.sh"))
        .arg("--wasm")
        .arg(&wasm_file)
        .arg("--out")
        .arg(&layout)
        .args(["--tag", "test"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no `{key}` line in:\n{stdout}"))
    };

    // Every blob is stored under its own digest.
    let blobs: Vec<PathBuf> = fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(blobs.len(), 3, "manifest, config and one layer");
    for b in &blobs {
        let name = b.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(sha256_hex(&fs::read(b).unwrap()), name);
    }
    assert_eq!(
        read_json(&layout.join("oci-layout")),
        serde_json::json!({"imageLayoutVersion": "1.0.0"})
    );

    // index.json → the manifest, tagged.
    let index = read_json(&layout.join("index.json"));
    assert_eq!(index["schemaVersion"], 2);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(
        entry["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "test"
    );
    let manifest_digest = entry["digest"].as_str().unwrap();
    assert_eq!(printed("manifest digest:"), manifest_digest);
    let manifest_bytes = blob(&layout, manifest_digest);
    assert_eq!(entry["size"], manifest_bytes.len());
    let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();

    // The compat variant: one tar+gzip layer, the annotation, an OCI config.
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(
        manifest["annotations"]["module.wasm.image/variant"],
        "compat"
    );
    let config = &manifest["config"];
    assert_eq!(
        config["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let config_bytes = blob(&layout, config["digest"].as_str().unwrap());
    assert_eq!(config["size"], config_bytes.len());
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "a single layer");
    let layer = &layers[0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let layer_bytes = blob(&layout, layer["digest"].as_str().unwrap());
    assert_eq!(layer["size"], layer_bytes.len());

    // The layer holds exactly plugin.wasm, byte for byte the module; the
    // config's diff_id is the uncompressed tar's digest.
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(&layer_bytes[..])
        .read_to_end(&mut tar_bytes)
        .unwrap();
    let config_json: Value = serde_json::from_slice(&config_bytes).unwrap();
    assert_eq!(
        config_json["rootfs"]["diff_ids"][0],
        format!("sha256:{}", sha256_hex(&tar_bytes))
    );
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        files.push((path, content));
    }
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].0, "plugin.wasm");
    assert!(files[0].1 == wasm, "plugin.wasm differs from palisade.wasm");
    assert_eq!(printed("wasm sha256:"), sha256_hex(&wasm));

    // The oci-archive holds the same files as the layout directory.
    let archive_path = tmp.join("palisade.tar");
    let mut names = BTreeSet::new();
    let mut oci_archive = tar::Archive::new(fs::File::open(&archive_path).unwrap());
    for entry in oci_archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        assert_eq!(content, fs::read(layout.join(&name)).unwrap(), "{name}");
        names.insert(name);
    }
    let mut expected: BTreeSet<String> = ["oci-layout", "index.json"]
        .into_iter()
        .map(String::from)
        .collect();
    for b in &blobs {
        let hex = b.file_name().unwrap().to_string_lossy().into_owned();
        expected.insert(format!("blobs/sha256/{hex}"));
    }
    assert_eq!(names, expected);

    // Reproducible: packaging again gives the same manifest digest.
    let again = Command::new(workspace_root().join("scripts/oci-package.sh"))
        .arg("--wasm")
        .arg(&wasm_file)
        .arg("--out")
        .arg(tmp.join("again"))
        .args(["--tag", "test"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains(manifest_digest));
    let _ = fs::remove_dir_all(&tmp);
}
