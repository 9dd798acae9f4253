//! Reads Palisade's `palisade-verdict` lines from Envoy's log as it grows,
//! indexed by request id. Reading only the new bytes each time keeps a
//! 5000-test run linear in the log size.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

/// One verdict: the rule ids it names and the raw JSON (for log regexes).
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    pub ids: Vec<u32>,
    pub line: String,
}

pub struct VerdictLog {
    file: File,
    offset: u64,
    partial: Vec<u8>,
    seen: HashMap<String, Verdict>,
}

const MARKER: &str = "palisade-verdict ";

impl VerdictLog {
    pub fn open(path: &Path) -> Result<VerdictLog, String> {
        let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        Ok(VerdictLog {
            file,
            offset: 0,
            partial: Vec::new(),
            seen: HashMap::new(),
        })
    }

    /// Reads what was appended since the last call.
    fn poll(&mut self) -> Result<(), String> {
        let mut fresh = Vec::new();
        self.file
            .seek(SeekFrom::Start(self.offset))
            .and_then(|_| self.file.read_to_end(&mut fresh))
            .map_err(|e| format!("reading Envoy's log: {e}"))?;
        self.offset += fresh.len() as u64;
        self.partial.extend_from_slice(&fresh);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(());
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        for line in String::from_utf8_lossy(&complete).lines() {
            if let Some((id, verdict)) = parse_line(line) {
                self.seen.insert(id, verdict);
            }
        }
        Ok(())
    }

    /// The verdict for `request_id`, waiting up to `timeout` for it.
    pub fn wait(&mut self, request_id: &str, timeout: Duration) -> Result<Option<Verdict>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            self.poll()?;
            if let Some(v) = self.seen.remove(request_id) {
                return Ok(Some(v));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The verdict for `request_id` if it has already been logged.
    pub fn take(&mut self, request_id: &str) -> Result<Option<Verdict>, String> {
        self.poll()?;
        Ok(self.seen.remove(request_id))
    }
}

fn parse_line(line: &str) -> Option<(String, Verdict)> {
    let json = line.split_once(MARKER)?.1;
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let id = value["request_id"].as_str()?.to_string();
    let ids = value["rules"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .filter_map(|r| r["id"].as_u64().and_then(|i| u32::try_from(i).ok()))
                .collect()
        })
        .unwrap_or_default();
    Some((
        id,
        Verdict {
            ids,
            line: json.to_string(),
        },
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_from_a_verdict_line() {
        let line = r#"[2026-01-01][wasm] palisade-verdict {"event":"blocked","request_id":"ftw-3","rules":[{"id":107100},{"id":107120}]}"#;
        let (id, v) = parse_line(line).unwrap();
        assert_eq!(id, "ftw-3");
        assert_eq!(v.ids, vec![107100, 107120]);
    }
}
