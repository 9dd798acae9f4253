//! Requests as written in rule tests, turned into the engine's request model.
//! Kept small on purpose: a test should read like the request it describes.

use palisade_engine::body::BodyLimits;
use palisade_engine::request::{Header, Request};
use serde::Deserialize;
use serde_yaml_ng::Value;

/// A request in a rule's `tests:` section.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    #[serde(default)]
    pub method: Option<String>,
    /// Path, optionally with its own `?query`.
    #[serde(default)]
    pub path: Option<String>,
    /// Query string, appended after `?` (or `&` if the path has one).
    #[serde(default)]
    pub query: Option<String>,
    /// A map of headers, or a list of `[name, value]` pairs.
    #[serde(default)]
    pub headers: Option<Value>,
    #[serde(default)]
    pub body: Option<String>,
    /// Add `host`, `user-agent` and `accept` unless set (default true).
    #[serde(default)]
    pub default_headers: Option<bool>,
}

impl TestRequest {
    /// The request target: path plus query.
    pub fn uri(&self) -> String {
        let mut uri = self.path.clone().unwrap_or_else(|| "/".to_string());
        if let Some(q) = &self.query {
            uri.push(if uri.contains('?') { '&' } else { '?' });
            uri.push_str(q);
        }
        uri
    }

    /// Header list in order, defaults added.
    ///
    /// # Errors
    /// A message when `headers` is neither a map nor a list of pairs.
    pub fn header_list(&self) -> Result<Vec<(String, String)>, String> {
        let mut list: Vec<(String, String)> = Vec::new();
        let scalar = |v: &Value| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err("header names and values must be strings".to_string()),
        };
        match &self.headers {
            None => {}
            Some(Value::Mapping(map)) => {
                for (k, v) in map {
                    list.push((scalar(k)?, scalar(v)?));
                }
            }
            Some(Value::Sequence(items)) => {
                for item in items {
                    match item {
                        Value::Sequence(pair) if pair.len() == 2 => {
                            list.push((scalar(&pair[0])?, scalar(&pair[1])?))
                        }
                        _ => {
                            return Err(
                                "`headers` list items must be [name, value] pairs".to_string()
                            )
                        }
                    }
                }
            }
            Some(_) => {
                return Err("`headers` must be a map or a list of [name, value] pairs".to_string())
            }
        }
        let has = |list: &[(String, String)], name: &str| {
            list.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        if self.default_headers.unwrap_or(true) {
            for (name, value) in [
                ("host", "localhost"),
                ("user-agent", "palisade-test"),
                ("accept", "*/*"),
            ] {
                if !has(&list, name) {
                    list.push((name.to_string(), value.to_string()));
                }
            }
        }
        if self.body.is_some() && !has(&list, "content-type") {
            list.push((
                "content-type".to_string(),
                "application/x-www-form-urlencoded".to_string(),
            ));
        }
        Ok(list)
    }

    /// The method: as written, else POST with a body, else GET.
    pub fn method(&self) -> String {
        self.method
            .clone()
            .unwrap_or_else(|| if self.body.is_some() { "POST" } else { "GET" }.to_string())
    }

    /// Builds the engine's request, body attached and parsed.
    ///
    /// # Errors
    /// A message when the headers are malformed.
    pub fn to_request(&self, limits: &BodyLimits) -> Result<Request, String> {
        let mut req = request_head(&self.method(), &self.uri(), &self.header_list()?);
        if let Some(body) = &self.body {
            req.attach_body(body.as_bytes().to_vec(), false, limits);
        }
        Ok(req)
    }
}

/// The engine's request for a method, target and header list, without a
/// body (attach it with [`Request::attach_body`] before the body phase).
pub fn request_head(method: &str, uri: &str, headers: &[(String, String)]) -> Request {
    let headers = headers
        .iter()
        .map(|(n, v)| Header::new(n.as_bytes(), v.as_bytes()))
        .collect();
    Request::new(method.as_bytes(), uri.as_bytes(), &b"HTTP/1.1"[..], headers)
}
