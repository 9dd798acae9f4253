//! bench/docker-compose.yml must be a valid Compose file referring to files
//! that exist. `docker-compose config` validates it without a Docker engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

#[test]
fn docker_compose_file_is_valid() {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("docker-compose")
        .current_dir(bench)
        .args(["-f", "docker-compose.yml", "config"])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run docker-compose ({e}): `apt-get install docker-compose` (scripts/setup.sh does)")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "docker-compose config failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for service in ["envoy:", "upstream:", "load:"] {
        assert!(
            stdout.contains(service),
            "service {service} missing:\n{stdout}"
        );
    }
    // The mounted Envoy config is checked in.
    assert!(bench.join("docker/envoy.yaml").exists());
}
