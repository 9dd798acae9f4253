//! Reads Palisade's `palisade-verdict` lines from Envoy's log as it grows,
//! indexed by request id. Reading only the new bytes each time keeps a
//! 5000-test run linear in the log size.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

/// One verdict: the rule ids it names, the raw JSON and its
/// ModSecurity-style rendering (both for log regexes).
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    pub ids: Vec<u32>,
    pub line: String,
    /// [`modsec_text`] of the line.
    pub modsec: String,
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
            modsec: modsec_text(&value),
        },
    ))
}

/// The verdict as ModSecurity's error log would have put it, one line per
/// matched rule:
///
/// ```text
/// ModSecurity: Warning. Matched against variable `ARGS:x' [id "942100"] [msg "SQL Injection Attack"] [data "Matched Data: ... found within ARGS:x: ..."] [severity "CRITICAL"]
/// ```
///
/// go-ftw's `log_contains` / `no_log_contains` regexes are written for that
/// log (`\[id "922130"\].*\[msg "..."\]`, `found within ARGS:x` from CRS's
/// `logdata`), so the runner matches them against this text as well as the
/// raw JSON line. `[data]` is left out when the rule has no `logdata`; values
/// are written as logged (the filter already escaped control bytes).
pub fn modsec_text(verdict: &serde_json::Value) -> String {
    let Some(rules) = verdict["rules"].as_array() else {
        return String::new();
    };
    let mut out = String::new();
    for r in rules {
        let id = r["id"].as_u64().unwrap_or(0);
        let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
        out.push_str(&format!(
            "ModSecurity: Warning. Matched against variable `{}' [id \"{id}\"] [msg \"{}\"]",
            text("variable"),
            text("message")
        ));
        if let Some(data) = r["data"].as_str() {
            out.push_str(&format!(" [data \"{data}\"]"));
        }
        out.push_str(&format!(
            " [severity \"{}\"]\n",
            text("severity").to_ascii_uppercase()
        ));
    }
    out
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

    #[test]
    fn renders_matches_as_modsecurity_log_lines() {
        let line = r#"palisade-verdict {"request_id":"ftw-4","rules":[{"id":932200,"message":"RCE Bypass Technique","severity":"critical","variable":"REQUEST_HEADERS:Referer","data":"Matched Data: $u found within REQUEST_HEADERS:Referer: #x=foo;cat$u /etc$u/passwd"},{"id":922130,"message":"Multipart header contains characters outside of valid range","severity":"error","variable":"MULTIPART_PART_HEADERS"}]}"#;
        let (_, v) = parse_line(line).unwrap();
        let lines: Vec<&str> = v.modsec.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            r#"ModSecurity: Warning. Matched against variable `REQUEST_HEADERS:Referer' [id "932200"] [msg "RCE Bypass Technique"] [data "Matched Data: $u found within REQUEST_HEADERS:Referer: #x=foo;cat$u /etc$u/passwd"] [severity "CRITICAL"]"#
        );
        assert!(!lines[1].contains("[data"));
        // The patterns CRS's tests use, written for ModSecurity's log.
        let hit = |p: &str| super::super::regex(p).unwrap().is_match(&v.modsec);
        assert!(hit(
            r"Matched Data: \$u found within REQUEST_HEADERS:Referer: #x=foo;cat\$u /etc\$u/passwd"
        ));
        assert!(hit(
            r#"\[id "922130"\].*\[msg "Multipart header contains characters outside of valid range"\]"#
        ));
        assert!(!hit(r#"\[id "922130"\].*\[data"#));
    }
}
