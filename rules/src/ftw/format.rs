//! go-ftw test files (the CRS regression format, see
//! github.com/coreruleset/ftw-tests-schema). Parsing is lenient about fields
//! the runner does not use (`meta`, `desc`, `dest_addr`, ...), so files from
//! newer schema versions still load; what the runner acts on is typed.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One YAML file: a rule's tests.
#[derive(Debug, Deserialize)]
pub struct TestFile {
    #[serde(default)]
    pub rule_id: Option<u32>,
    #[serde(default)]
    pub tests: Vec<Test>,
}

#[derive(Debug, Deserialize)]
pub struct Test {
    #[serde(default)]
    pub test_id: Option<u32>,
    #[serde(default)]
    pub desc: Option<String>,
    #[serde(default)]
    pub stages: Vec<Stage>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Stage {
    #[serde(default)]
    pub input: Input,
    #[serde(default)]
    pub output: Output,
}

/// What to send. `dest_addr`, `port` and `protocol` are accepted and ignored:
/// the runner always talks plain HTTP to the gateway under test.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Input {
    pub method: Option<String>,
    pub uri: Option<String>,
    pub version: Option<String>,
    /// In file order: the wire order matters to protocol rules.
    #[serde(default, deserialize_with = "ordered_headers")]
    pub headers: Vec<(String, String)>,
    pub data: Option<Data>,
    pub encoded_request: Option<String>,
    pub autocomplete_headers: Option<bool>,
    #[serde(default)]
    pub save_cookie: bool,
}

/// `data` is a string, or a list of lines (older files) joined with CRLF.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Data {
    Text(String),
    Lines(Vec<String>),
}

impl Data {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Data::Text(t) => t.as_bytes().to_vec(),
            Data::Lines(l) => l.join("\r\n").into_bytes(),
        }
    }
}

/// What to expect. The flat `expect_ids` and the `log:` block mean the same.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Output {
    pub status: Option<Statuses>,
    #[serde(default)]
    pub expect_ids: Vec<u32>,
    #[serde(default)]
    pub no_expect_ids: Vec<u32>,
    #[serde(default)]
    pub log: LogExpect,
    pub log_contains: Option<String>,
    pub no_log_contains: Option<String>,
    pub response_contains: Option<String>,
    #[serde(default)]
    pub isolated: bool,
    pub expect_error: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct LogExpect {
    #[serde(default)]
    pub expect_ids: Vec<u32>,
    #[serde(default)]
    pub no_expect_ids: Vec<u32>,
    /// The schema's older singular forms.
    pub expect_id: Option<u32>,
    pub no_expect_id: Option<u32>,
    pub match_regex: Option<String>,
    pub no_match_regex: Option<String>,
}

/// `status: 403` or `status: [200, 403]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Statuses {
    One(u16),
    Any(Vec<u16>),
}

impl Statuses {
    pub fn list(&self) -> Vec<u16> {
        match self {
            Statuses::One(s) => vec![*s],
            Statuses::Any(l) => l.clone(),
        }
    }
}

impl Output {
    /// All ids that must be logged.
    pub fn expected_ids(&self) -> Vec<u32> {
        let mut ids = self.expect_ids.clone();
        ids.extend(&self.log.expect_ids);
        ids.extend(self.log.expect_id);
        ids
    }

    /// All ids that must not be logged.
    pub fn forbidden_ids(&self) -> Vec<u32> {
        let mut ids = self.no_expect_ids.clone();
        ids.extend(&self.log.no_expect_ids);
        ids.extend(self.log.no_expect_id);
        ids
    }

    /// Regexes the verdict log line must / must not match.
    pub fn log_patterns(&self) -> (Vec<&str>, Vec<&str>) {
        let must = [
            self.log_contains.as_deref(),
            self.log.match_regex.as_deref(),
        ];
        let must_not = [
            self.no_log_contains.as_deref(),
            self.log.no_match_regex.as_deref(),
        ];
        (
            must.into_iter().flatten().collect(),
            must_not.into_iter().flatten().collect(),
        )
    }
}

/// Header maps keep file order; values may be YAML numbers (`Content-Length: 0`).
fn ordered_headers<'de, D>(de: D) -> Result<Vec<(String, String)>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let map = Option::<serde_yaml_ng::Mapping>::deserialize(de)?.unwrap_or_default();
    Ok(map
        .into_iter()
        .map(|(k, v)| (scalar(&k), scalar(&v)))
        .collect())
}

fn scalar(v: &serde_yaml_ng::Value) -> String {
    match v {
        serde_yaml_ng::Value::String(s) => s.clone(),
        serde_yaml_ng::Value::Number(n) => n.to_string(),
        serde_yaml_ng::Value::Bool(b) => b.to_string(),
        serde_yaml_ng::Value::Null => String::new(),
        other => serde_yaml_ng::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

/// A parsed file with where it came from.
#[derive(Debug)]
pub struct LoadedFile {
    pub path: PathBuf,
    /// The file's `rule_id`, else the number its name starts with.
    pub rule_id: u32,
    pub file: TestFile,
}

/// Parses one test file.
pub fn load_file(path: &Path) -> Result<LoadedFile, String> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: TestFile =
        serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let from_name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .map(|s| {
            s.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|d| d.parse().ok());
    let rule_id = file.rule_id.or(from_name).unwrap_or(0);
    Ok(LoadedFile {
        path: path.to_path_buf(),
        rule_id,
        file,
    })
}

/// Every `*.yaml` / `*.yml` under the given files and directories, sorted
/// within each directory so runs are reproducible.
pub fn collect_paths(roots: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for root in roots {
        if root.is_dir() {
            walk(root, &mut out)?;
        } else if root.is_file() {
            out.push(root.clone());
        } else {
            return Err(format!("{}: no such file or directory", root.display()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads every test file under `roots`.
pub fn load_all(roots: &[PathBuf]) -> Result<Vec<LoadedFile>, String> {
    collect_paths(roots)?.iter().map(|p| load_file(p)).collect()
}
