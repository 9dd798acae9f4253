//! Variables: the named parts of a request a rule can inspect (`args`,
//! `request_headers:user-agent`, `&request_headers:host`, `args:!password`).
//!
//! A [`Target`] is parsed once when a ruleset loads. At request time each
//! collection is expanded into its instances at most once per phase (see
//! `eval`), so a hundred rules reading `args` walk the arguments once.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use regex_automata::meta::Regex;
use regex_automata::util::syntax;

use crate::body::{BodyFlag, Processor};
use crate::request::Request;

/// A collection (or scalar) of request data. Names follow ModSecurity's
/// variables, written in lowercase in native rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Collection {
    /// Query and body arguments.
    Args,
    ArgsGet,
    ArgsPost,
    ArgsNames,
    ArgsGetNames,
    ArgsPostNames,
    /// Total bytes of all argument names and values.
    ArgsCombinedSize,
    RequestHeaders,
    RequestHeadersNames,
    RequestCookies,
    RequestCookiesNames,
    /// Path and query, without scheme or host, as sent.
    RequestUri,
    /// The request target exactly as sent (may be absolute-form).
    RequestUriRaw,
    /// The percent-decoded path.
    RequestFilename,
    RequestBasename,
    RequestLine,
    RequestMethod,
    RequestProtocol,
    QueryString,
    RequestBody,
    /// `1` when the path or query had `%` not followed by two hex digits.
    UrlInvalidEncoding,
    ReqbodyProcessor,
    /// `1` when the body parser failed, else `0`.
    ReqbodyError,
    ReqbodyErrorMsg,
    /// `1` when any multipart anomaly flag is set.
    MultipartStrictError,
    MultipartPartHeaders,
    /// One body parser anomaly, `1` when set.
    BodyFlag(BodyFlag),
    /// Uploaded file names (the `filename=` of each part).
    Files,
    /// Field names of uploaded files.
    FilesNames,
    FilesCombinedSize,
    RemoteAddr,
    /// Bytes in the request body.
    RequestBodyLength,
    /// The transaction's unique id (Envoy's `x-request-id`).
    UniqueId,
    /// Transaction variables set by `setvar` (and `TX:0`..`TX:9` captures).
    Tx,
    /// The last value the rule's previous condition matched.
    MatchedVar,
    MatchedVarName,
    /// Every value the rule's previous condition matched.
    MatchedVars,
    MatchedVarsNames,
    ResponseStatus,
    ResponseProtocol,
    ResponseHeaders,
    ResponseHeadersNames,
    ResponseBody,
    ResponseContentType,
    /// An XML body's text nodes (member `/*`) and attribute values
    /// (member `//@*`): the two XPath forms OWASP CRS uses.
    Xml,
}

/// Per-request values by collection, in a table indexed by
/// [`Collection::slot`]: probed for every (condition, target), where a
/// hash map keyed by collection cost the built-in GET 2.4% more
/// instructions (callgrind) and about 5% more time in V8.
#[derive(Clone, Debug)]
pub(crate) struct ByCollection<T> {
    /// Empty until the first insert, then [`Collection::COUNT`] long.
    slots: Vec<Option<(Collection, T)>>,
}

impl<T> Default for ByCollection<T> {
    fn default() -> Self {
        ByCollection { slots: Vec::new() }
    }
}

impl<T> ByCollection<T> {
    /// The value for `collection`, made by `make` if there is none yet.
    pub(crate) fn get_or_insert_with(
        &mut self,
        collection: Collection,
        make: impl FnOnce() -> T,
    ) -> &mut T {
        if self.slots.is_empty() {
            self.slots.resize_with(Collection::COUNT, || None);
        }
        let (_, value) = self.slots[collection.slot()].get_or_insert_with(|| (collection, make()));
        value
    }

    /// Drops the values for which `keep` is false; `keep` may change the
    /// others.
    pub(crate) fn retain_mut(&mut self, mut keep: impl FnMut(Collection, &mut T) -> bool) {
        for slot in &mut self.slots {
            if slot.as_mut().is_some_and(|(c, value)| !keep(*c, value)) {
                *slot = None;
            }
        }
    }
}

const NAMED: &[(&str, Collection)] = &[
    ("args", Collection::Args),
    ("args_get", Collection::ArgsGet),
    ("args_post", Collection::ArgsPost),
    ("args_names", Collection::ArgsNames),
    ("args_get_names", Collection::ArgsGetNames),
    ("args_post_names", Collection::ArgsPostNames),
    ("args_combined_size", Collection::ArgsCombinedSize),
    ("request_headers", Collection::RequestHeaders),
    ("request_headers_names", Collection::RequestHeadersNames),
    ("request_cookies", Collection::RequestCookies),
    ("request_cookies_names", Collection::RequestCookiesNames),
    ("request_uri", Collection::RequestUri),
    ("request_uri_raw", Collection::RequestUriRaw),
    ("request_filename", Collection::RequestFilename),
    ("request_basename", Collection::RequestBasename),
    ("request_line", Collection::RequestLine),
    ("request_method", Collection::RequestMethod),
    ("request_protocol", Collection::RequestProtocol),
    ("query_string", Collection::QueryString),
    ("request_body", Collection::RequestBody),
    ("url_invalid_encoding", Collection::UrlInvalidEncoding),
    ("reqbody_processor", Collection::ReqbodyProcessor),
    ("reqbody_error", Collection::ReqbodyError),
    ("reqbody_error_msg", Collection::ReqbodyErrorMsg),
    ("multipart_strict_error", Collection::MultipartStrictError),
    ("multipart_part_headers", Collection::MultipartPartHeaders),
    ("files", Collection::Files),
    ("files_names", Collection::FilesNames),
    ("files_combined_size", Collection::FilesCombinedSize),
    ("remote_addr", Collection::RemoteAddr),
    ("request_body_length", Collection::RequestBodyLength),
    ("unique_id", Collection::UniqueId),
    ("tx", Collection::Tx),
    ("matched_var", Collection::MatchedVar),
    ("matched_var_name", Collection::MatchedVarName),
    ("matched_vars", Collection::MatchedVars),
    ("matched_vars_names", Collection::MatchedVarsNames),
    ("response_status", Collection::ResponseStatus),
    ("response_protocol", Collection::ResponseProtocol),
    ("response_headers", Collection::ResponseHeaders),
    ("response_headers_names", Collection::ResponseHeadersNames),
    ("response_body", Collection::ResponseBody),
    ("response_content_type", Collection::ResponseContentType),
    ("xml", Collection::Xml),
];

/// Collections as a bit each (by their dense slot number): what a condition's
/// targets read, or what exclusions take members from, in one word (see
/// `Reach` in [`crate::eval`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CollectionSet(u64);

// Every collection has a bit.
const _: () = assert!(Collection::COUNT <= 64);

impl CollectionSet {
    /// The collections `targets` read.
    pub fn of(targets: &[Target]) -> Self {
        let mut set = CollectionSet::default();
        for target in targets {
            set.insert(target.collection);
        }
        set
    }

    /// Adds `collection`.
    pub fn insert(&mut self, collection: Collection) {
        self.0 |= 1 << collection.slot();
    }

    /// The collections of either.
    pub fn union(self, other: CollectionSet) -> CollectionSet {
        CollectionSet(self.0 | other.0)
    }

    /// Do the two sets share a collection?
    pub fn intersects(self, other: CollectionSet) -> bool {
        self.0 & other.0 != 0
    }
}

impl Collection {
    /// Collections other than the body flags.
    const PLAIN: usize = 44;

    /// Number of distinct collections: the width of a [`ByCollection`].
    pub(crate) const COUNT: usize = Self::PLAIN + BodyFlag::ALL.len();

    /// A dense number below [`Collection::COUNT`], for per-request tables
    /// indexed rather than hashed.
    pub(crate) fn slot(self) -> usize {
        match self {
            Collection::Args => 0,
            Collection::ArgsGet => 1,
            Collection::ArgsPost => 2,
            Collection::ArgsNames => 3,
            Collection::ArgsGetNames => 4,
            Collection::ArgsPostNames => 5,
            Collection::ArgsCombinedSize => 6,
            Collection::RequestHeaders => 7,
            Collection::RequestHeadersNames => 8,
            Collection::RequestCookies => 9,
            Collection::RequestCookiesNames => 10,
            Collection::RequestUri => 11,
            Collection::RequestUriRaw => 12,
            Collection::RequestFilename => 13,
            Collection::RequestBasename => 14,
            Collection::RequestLine => 15,
            Collection::RequestMethod => 16,
            Collection::RequestProtocol => 17,
            Collection::QueryString => 18,
            Collection::RequestBody => 19,
            Collection::UrlInvalidEncoding => 20,
            Collection::ReqbodyProcessor => 21,
            Collection::ReqbodyError => 22,
            Collection::ReqbodyErrorMsg => 23,
            Collection::MultipartStrictError => 24,
            Collection::MultipartPartHeaders => 25,
            Collection::Files => 26,
            Collection::FilesNames => 27,
            Collection::FilesCombinedSize => 28,
            Collection::RemoteAddr => 29,
            Collection::RequestBodyLength => 30,
            Collection::UniqueId => 31,
            Collection::Tx => 32,
            Collection::MatchedVar => 33,
            Collection::MatchedVarName => 34,
            Collection::MatchedVars => 35,
            Collection::MatchedVarsNames => 36,
            Collection::ResponseStatus => 37,
            Collection::ResponseProtocol => 38,
            Collection::ResponseHeaders => 39,
            Collection::ResponseHeadersNames => 40,
            Collection::ResponseBody => 41,
            Collection::ResponseContentType => 42,
            Collection::Xml => 43,
            Collection::BodyFlag(flag) => Self::PLAIN + flag as usize,
        }
    }

    /// Looks a collection up by its native (lowercase) or SecLang (uppercase) name.
    pub fn from_name(name: &str) -> Option<Collection> {
        let lc = name.to_ascii_lowercase();
        NAMED
            .iter()
            .find(|(n, _)| *n == lc)
            .map(|(_, c)| *c)
            .or_else(|| {
                BodyFlag::ALL
                    .iter()
                    .find(|f| f.variable_name() == lc)
                    .map(|f| Collection::BodyFlag(*f))
            })
    }

    /// The native name.
    pub fn name(self) -> &'static str {
        match self {
            Collection::BodyFlag(flag) => flag.variable_name(),
            other => NAMED
                .iter()
                .find(|(_, c)| *c == other)
                .map(|(n, _)| *n)
                .unwrap_or("unknown"),
        }
    }

    /// True when this collection can only be known once the body was read,
    /// or may hold more once it is (rules reading it run in the body phase).
    pub fn needs_body(self) -> bool {
        matches!(
            self,
            Collection::Args
                | Collection::ArgsPost
                | Collection::ArgsNames
                | Collection::ArgsPostNames
                | Collection::ArgsCombinedSize
                | Collection::RequestBody
                | Collection::ReqbodyProcessor
                | Collection::ReqbodyError
                | Collection::ReqbodyErrorMsg
                | Collection::MultipartStrictError
                | Collection::MultipartPartHeaders
                | Collection::BodyFlag(_)
                | Collection::Files
                | Collection::FilesNames
                | Collection::FilesCombinedSize
                | Collection::RequestBodyLength
                | Collection::Xml
        )
    }

    /// True for collections whose values change while rules run (set by
    /// rules or by the last match), so they are never cached per phase.
    pub fn is_dynamic(self) -> bool {
        matches!(
            self,
            Collection::Tx
                | Collection::MatchedVar
                | Collection::MatchedVarName
                | Collection::MatchedVars
                | Collection::MatchedVarsNames
        )
    }

    /// True for collections with named members (a selector makes sense).
    pub fn is_keyed(self) -> bool {
        matches!(
            self,
            Collection::Args
                | Collection::ArgsGet
                | Collection::ArgsPost
                | Collection::ArgsNames
                | Collection::ArgsGetNames
                | Collection::ArgsPostNames
                | Collection::RequestHeaders
                | Collection::RequestHeadersNames
                | Collection::RequestCookies
                | Collection::RequestCookiesNames
                | Collection::MultipartPartHeaders
                | Collection::Files
                | Collection::FilesNames
                | Collection::Tx
                | Collection::MatchedVars
                | Collection::MatchedVarsNames
                | Collection::ResponseHeaders
                | Collection::ResponseHeadersNames
                | Collection::Xml
        )
    }

    /// Expands this collection into its instances for one request.
    ///
    /// For keyed collections the instance name is the member's name (an
    /// argument, header or cookie name); for scalars it is empty.
    pub fn instances<'r>(self, req: &'r Request) -> Instances<'r> {
        let body = req.body.as_ref();
        let post_args = body.map(|b| b.args.as_slice()).unwrap_or(&[]);
        let pairs = |args: &'r [crate::request::Arg]| {
            args.iter()
                .map(|a| Instance::borrowed(&a.name, &a.value))
                .collect::<Vec<_>>()
        };
        let names = |args: &'r [crate::request::Arg]| {
            args.iter()
                .map(|a| Instance::borrowed(&a.name, &a.name))
                .collect::<Vec<_>>()
        };
        let scalar = |v: &'r [u8]| Instances::One(Instance::borrowed(b"", v));
        let owned = |v: Vec<u8>| {
            Instances::One(Instance {
                name: Cow::Borrowed(&b""[..]),
                value: Cow::Owned(v),
            })
        };
        let flag = |on: bool| scalar(if on { b"1" } else { b"0" });
        match self {
            Collection::Args => {
                let mut all = pairs(&req.query_args);
                all.extend(pairs(post_args));
                all.into()
            }
            Collection::ArgsGet => pairs(&req.query_args).into(),
            Collection::ArgsPost => pairs(post_args).into(),
            Collection::ArgsNames => {
                let mut all = names(&req.query_args);
                all.extend(names(post_args));
                all.into()
            }
            Collection::ArgsGetNames => names(&req.query_args).into(),
            Collection::ArgsPostNames => names(post_args).into(),
            Collection::ArgsCombinedSize => {
                let size: usize = req
                    .query_args
                    .iter()
                    .chain(post_args)
                    .map(|a| a.name.len() + a.value.len())
                    .sum();
                owned(size.to_string().into_bytes())
            }
            Collection::RequestHeaders => req
                .headers
                .iter()
                .map(|h| Instance::borrowed(h.name_lc(), &h.value))
                .collect(),
            Collection::RequestHeadersNames => req
                .headers
                .iter()
                .map(|h| Instance::borrowed(h.name_lc(), &h.name))
                .collect(),
            Collection::RequestCookies => pairs(&req.cookies).into(),
            Collection::RequestCookiesNames => names(&req.cookies).into(),
            Collection::RequestUri => {
                if req.query_string.is_empty() && !req.uri_raw.contains(&b'?') {
                    scalar(&req.path_raw)
                } else {
                    let mut uri = req.path_raw.clone();
                    uri.push(b'?');
                    uri.extend_from_slice(&req.query_string);
                    owned(uri)
                }
            }
            Collection::RequestUriRaw => scalar(&req.uri_raw),
            Collection::RequestFilename => scalar(&req.path_decoded),
            Collection::RequestBasename => scalar(&req.basename),
            Collection::RequestLine => owned(req.request_line()),
            Collection::RequestMethod => scalar(&req.method),
            Collection::RequestProtocol => scalar(&req.protocol),
            Collection::QueryString => scalar(&req.query_string),
            // As in ModSecurity: the raw body when it is form data or no
            // parser took it; a JSON, XML or multipart body is inspected
            // through what its parser produced (ARGS, XML, FILES), so markup
            // and structure are not matched as if they were values.
            Collection::RequestBody => match body {
                Some(b) if matches!(b.processor, Processor::UrlEncoded | Processor::Raw) => {
                    scalar(&b.raw)
                }
                _ => Instances::default(),
            },
            Collection::UrlInvalidEncoding => flag(req.uri_invalid_encoding),
            // Known from the Content-Type before the body arrives, as in
            // ModSecurity: headers-phase rules (CRS 901340) decide on it.
            Collection::ReqbodyProcessor => match body {
                Some(b) => scalar(b.processor.name().as_bytes()),
                None => {
                    let ct = req.content_type().unwrap_or_default();
                    scalar(crate::body::processor_for(ct).name().as_bytes())
                }
            },
            Collection::ReqbodyError => flag(body.is_some_and(|b| b.error.is_some())),
            Collection::ReqbodyErrorMsg => match body.and_then(|b| b.error.as_deref()) {
                Some(msg) => scalar(msg.as_bytes()),
                None => Instances::default(),
            },
            Collection::MultipartStrictError => {
                flag(body.is_some_and(|b| b.flags.iter().any(|f| f.is_multipart_strict())))
            }
            Collection::MultipartPartHeaders => body
                .map(|b| {
                    b.part_headers
                        .iter()
                        .map(|h| Instance::borrowed(h.name_lc(), &h.value))
                        .collect()
                })
                .unwrap_or_default(),
            Collection::BodyFlag(f) => flag(body.is_some_and(|b| b.has_flag(f))),
            Collection::Files => body
                .map(|b| {
                    b.files
                        .iter()
                        .map(|f| Instance::borrowed(&f.field_name, &f.filename))
                        .collect()
                })
                .unwrap_or_default(),
            Collection::FilesNames => body
                .map(|b| {
                    b.files
                        .iter()
                        .map(|f| Instance::borrowed(&f.field_name, &f.field_name))
                        .collect()
                })
                .unwrap_or_default(),
            Collection::FilesCombinedSize => {
                let size: usize = body
                    .map(|b| b.files.iter().map(|f| f.size).sum())
                    .unwrap_or(0);
                owned(size.to_string().into_bytes())
            }
            Collection::RemoteAddr => scalar(&req.remote_addr),
            Collection::RequestBodyLength => match body {
                Some(b) => owned(b.raw.len().to_string().into_bytes()),
                None => owned(b"0".to_vec()),
            },
            Collection::UniqueId => scalar(&req.unique_id),
            Collection::ResponseStatus => match &req.response {
                Some(r) => scalar(&r.status),
                None => Instances::default(),
            },
            Collection::ResponseProtocol => match &req.response {
                Some(r) => scalar(&r.protocol),
                None => Instances::default(),
            },
            Collection::ResponseHeaders => req
                .response
                .iter()
                .flat_map(|r| &r.headers)
                .map(|h| Instance::borrowed(h.name_lc(), &h.value))
                .collect(),
            Collection::ResponseHeadersNames => req
                .response
                .iter()
                .flat_map(|r| &r.headers)
                .map(|h| Instance::borrowed(h.name_lc(), &h.name))
                .collect(),
            Collection::ResponseBody => match &req.response {
                Some(r) => scalar(&r.body),
                None => Instances::default(),
            },
            Collection::ResponseContentType => req
                .response
                .iter()
                .flat_map(|r| &r.headers)
                .filter(|h| h.name_lc() == b"content-type")
                .map(|h| Instance::borrowed(b"", &h.value))
                .take(1)
                .collect(),
            Collection::Xml => body
                .map(|b| {
                    let text = b.xml_text.iter().map(|v| Instance::borrowed(XML_TEXT, v));
                    let attrs = b.xml_attrs.iter().map(|v| Instance::borrowed(XML_ATTRS, v));
                    text.chain(attrs).collect()
                })
                .unwrap_or_default(),
            // Read from the transaction by the evaluator, never from the request.
            Collection::Tx
            | Collection::MatchedVar
            | Collection::MatchedVarName
            | Collection::MatchedVars
            | Collection::MatchedVarsNames => Instances::default(),
        }
    }
}

/// Member names of XML instances: the XPath that selects them.
const XML_TEXT: &[u8] = b"/*";
const XML_ATTRS: &[u8] = b"//@*";

/// A collection's values in one request. Most collections are one scalar,
/// kept without a vector: a GET under the built-in rules allocated one per
/// scalar collection read, per phase (dhat).
#[derive(Clone, Debug)]
pub enum Instances<'r> {
    One(Instance<'r>),
    Many(Vec<Instance<'r>>),
}

impl Default for Instances<'_> {
    fn default() -> Self {
        Instances::Many(Vec::new())
    }
}

impl<'r> std::ops::Deref for Instances<'r> {
    type Target = [Instance<'r>];

    fn deref(&self) -> &[Instance<'r>] {
        match self {
            Instances::One(one) => std::slice::from_ref(one),
            Instances::Many(many) => many,
        }
    }
}

impl<'r> From<Vec<Instance<'r>>> for Instances<'r> {
    fn from(many: Vec<Instance<'r>>) -> Self {
        Instances::Many(many)
    }
}

impl<'r> FromIterator<Instance<'r>> for Instances<'r> {
    fn from_iter<I: IntoIterator<Item = Instance<'r>>>(iter: I) -> Self {
        Instances::Many(iter.into_iter().collect())
    }
}

/// One value of a collection: an argument, a header, a scalar.
#[derive(Clone, Debug)]
pub struct Instance<'r> {
    /// Member name (lowercase for headers), empty for scalars.
    pub name: Cow<'r, [u8]>,
    pub value: Cow<'r, [u8]>,
}

impl<'r> Instance<'r> {
    fn borrowed(name: &'r [u8], value: &'r [u8]) -> Self {
        Instance {
            name: Cow::Borrowed(name),
            value: Cow::Borrowed(value),
        }
    }
}

/// Picks members of a keyed collection by name.
#[derive(Clone, Debug)]
pub enum Selector {
    /// Exact name, compared ASCII case-insensitively.
    Name(Vec<u8>),
    /// Regex over the name (`args:/^user\./`), byte mode, case-insensitive.
    /// `literal`: what every selected name holds, when the regex says so
    /// plainly.
    Regex {
        source: String,
        regex: Regex,
        literal: Option<NameLiteral>,
    },
}

impl Selector {
    fn parse(text: &str) -> Result<Selector, String> {
        if text.len() >= 2 && text.starts_with('/') && text.ends_with('/') {
            let source = &text[1..text.len() - 1];
            let regex = Regex::builder()
                .syntax(
                    syntax::Config::new()
                        .unicode(false)
                        .utf8(false)
                        .case_insensitive(true),
                )
                .build(source)
                .map_err(|e| format!("selector regex /{source}/ does not compile: {e}"))?;
            Ok(Selector::Regex {
                source: source.to_string(),
                regex,
                literal: NameLiteral::of(source),
            })
        } else if text.is_empty() {
            Err("empty selector after ':'".to_string())
        } else {
            Ok(Selector::Name(text.as_bytes().to_ascii_lowercase()))
        }
    }

    /// Does this selector pick a member with this name?
    // A name without the regex's literal is ruled out by comparing a few
    // bytes: CRS picks TX variables by regex on every request
    // (`TX:/MULTIPART_HEADERS_CONTENT_TYPES_*/` among every TX name,
    // `TX:/^header_name_920450_/`), and its exceptions leave out
    // cookies by regex (`!REQUEST_COOKIES:/^_pk_ref/`) for every rule
    // they touch.
    pub fn selects(&self, name: &[u8]) -> bool {
        match self {
            Selector::Name(n) => n.eq_ignore_ascii_case(name),
            Selector::Regex { regex, literal, .. } => {
                literal.as_ref().is_none_or(|l| l.is_in(name)) && regex.is_match(name)
            }
        }
    }
}

/// A literal every match of a selector regex holds, lowercase: at the start
/// of the name for `^name_`, anywhere for `name_`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameLiteral {
    bytes: Vec<u8>,
    anchored: bool,
}

impl NameLiteral {
    /// The regex's leading plain name characters (letters, digits, `_`,
    /// `-`), after an optional `^`, stopping before one a quantifier
    /// follows. `None` for anything less plain: an alternation anywhere,
    /// or no such character first (a group, a class, an escape, a flag).
    fn of(source: &str) -> Option<NameLiteral> {
        if source.contains('|') {
            return None;
        }
        let (anchored, rest) = match source.strip_prefix('^') {
            Some(rest) => (true, rest.as_bytes()),
            None => (false, source.as_bytes()),
        };
        let mut len = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
            .count();
        if matches!(rest.get(len), Some(b'*' | b'?' | b'+' | b'{')) {
            len = len.saturating_sub(1);
        }
        (len > 0).then(|| NameLiteral {
            bytes: rest[..len].to_ascii_lowercase(),
            anchored,
        })
    }

    /// Does `name` hold the literal (ASCII case-insensitively)?
    fn is_in(&self, name: &[u8]) -> bool {
        let len = self.bytes.len();
        if self.anchored {
            name.get(..len)
                .is_some_and(|start| start.eq_ignore_ascii_case(&self.bytes))
        } else {
            // Names are short: a plain scan, no searcher to build.
            len == 0
                || name
                    .windows(len)
                    .any(|w| w.eq_ignore_ascii_case(&self.bytes))
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Name(n) => write!(f, "{}", String::from_utf8_lossy(n)),
            Selector::Regex { source, .. } => write!(f, "/{source}/"),
        }
    }
}

/// One target of a rule: a collection, optionally narrowed to members, minus
/// excluded members, or counted.
#[derive(Clone, Debug)]
pub struct Target {
    pub collection: Collection,
    pub selector: Option<Selector>,
    pub exclusions: Vec<Selector>,
    /// `&args`: the value is the number of (selected) members.
    pub count: bool,
}

/// A parsed target string: either a target, or an exclusion to apply to the
/// rule's other targets of the same collection (`args:!password`).
#[derive(Clone, Debug)]
pub enum TargetItem {
    Include(Target),
    Exclude(Collection, Selector),
}

impl TargetItem {
    /// Parses `args`, `args:id`, `args:/re/`, `&request_headers:host`, `args:!password`.
    ///
    /// # Errors
    /// A message naming the unknown collection, the empty selector, a selector
    /// on a scalar, or a selector regex that does not compile.
    pub fn parse(text: &str) -> Result<TargetItem, String> {
        let text = text.trim();
        let (count, rest) = match text.strip_prefix('&') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (name, selector) = match rest.split_once(':') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let collection =
            Collection::from_name(name).ok_or_else(|| format!("unknown variable `{name}`"))?;
        let Some(selector) = selector else {
            return Ok(TargetItem::Include(Target {
                collection,
                selector: None,
                exclusions: Vec::new(),
                count,
            }));
        };
        if !collection.is_keyed() {
            return Err(format!(
                "`{name}` is a single value; it takes no `:selector`"
            ));
        }
        if let Some(excluded) = selector.strip_prefix('!') {
            if count {
                return Err(format!("`{text}`: an exclusion cannot be counted"));
            }
            return Ok(TargetItem::Exclude(collection, Selector::parse(excluded)?));
        }
        Ok(TargetItem::Include(Target {
            collection,
            selector: Some(Selector::parse(selector)?),
            exclusions: Vec::new(),
            count,
        }))
    }
}

impl Target {
    /// Does this target (before counting) look at a member with this name?
    pub fn selects(&self, name: &[u8]) -> bool {
        self.selector.as_ref().is_none_or(|s| s.selects(name))
            && !self.exclusions.iter().any(|e| e.selects(name))
    }

    /// How the verdict names a matched instance: `ARGS:id`, `REQUEST_URI`.
    pub fn describe(&self, name: &[u8]) -> String {
        let mut out = String::new();
        self.describe_into(name, &mut out);
        out
    }

    /// [`Target::describe`], appended to `out`. No allocation of its own:
    /// CRS names a hit for every matched value, TX checks included, and
    /// the uppercase copy plus `format!` was 3% of a CRS GET (callgrind);
    /// the engine writes into a hit's reused name.
    pub fn describe_into(&self, name: &[u8], out: &mut String) {
        let base = self.collection.name();
        out.reserve(base.len() + name.len() + 2);
        if self.count {
            out.push('&');
        }
        out.extend(base.chars().map(|c| c.to_ascii_uppercase()));
        if self.collection.is_keyed() && !name.is_empty() {
            out.push(':');
            push_lossy(out, name);
        } else if let (true, Some(sel)) = (self.count, &self.selector) {
            let _ = write!(out, ":{sel}");
        }
    }
}

/// Appends `bytes` as text, invalid UTF-8 replaced. Valid (ASCII) names
/// are the rule: checking them whole is cheaper than walking them in
/// chunks as `from_utf8_lossy` does (a hit is named per matched value).
pub(crate) fn push_lossy(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count {
            f.write_str("&")?;
        }
        f.write_str(self.collection.name())?;
        if let Some(sel) = &self.selector {
            write!(f, ":{sel}")?;
        }
        for excl in &self.exclusions {
            write!(f, ",{}:!{excl}", self.collection.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every collection has its own slot in a [`ByCollection`].
    #[test]
    fn collection_slots_are_distinct_and_in_range() {
        let all: Vec<Collection> = NAMED
            .iter()
            .map(|(_, c)| *c)
            .chain(BodyFlag::ALL.iter().map(|f| Collection::BodyFlag(*f)))
            .collect();
        let mut seen = [false; Collection::COUNT];
        for c in all {
            let slot = c.slot();
            assert!(slot < Collection::COUNT, "{c:?}");
            assert!(!seen[slot], "{c:?} shares slot {slot}");
            seen[slot] = true;
        }
        assert!(seen.iter().all(|s| *s), "a slot no collection uses");
    }

    #[test]
    fn selector_regexes_give_their_plain_literal() {
        let at_start = |bytes: &[u8]| {
            Some(NameLiteral {
                bytes: bytes.to_vec(),
                anchored: true,
            })
        };
        let anywhere = |bytes: &[u8]| {
            Some(NameLiteral {
                bytes: bytes.to_vec(),
                anchored: false,
            })
        };
        let cases = [
            ("^header_name_920450_", at_start(b"header_name_920450_")),
            ("^Header-Name", at_start(b"header-name")),
            ("^abc*", at_start(b"ab")),
            ("^ab\\d", at_start(b"ab")),
            ("^ab.c", at_start(b"ab")),
            ("^a{2}", None),
            ("^a|b", None),
            ("abc", anywhere(b"abc")),
            (
                "MULTIPART_HEADERS_CONTENT_TYPES_*",
                anywhere(b"multipart_headers_content_types"),
            ),
            ("^(?:x)", None),
            ("[a]bc", None),
        ];
        for (source, expected) in cases {
            assert_eq!(NameLiteral::of(source), expected, "{source}");
        }
    }

    /// The literal only rules names out: each selector picks exactly the
    /// names its regex alone matches.
    #[test]
    fn a_selector_literal_rules_out_only_names_its_regex_refuses() {
        let sources = [
            "^header_name_920450_",
            "^_pk_ref",
            "__utm",
            "MULTIPART_HEADERS_CONTENT_TYPES_*",
            "ab?c",
            "^ab*",
            "id$",
        ];
        let names: [&[u8]; 12] = [
            b"header_name_920450_host",
            b"HEADER_NAME_920450_X",
            b"x_header_name_920450_",
            b"_pk_ref.1.abc",
            b"a__UTMz",
            b"__ut",
            b"multipart_headers_content_types_0",
            b"MULTIPART_HEADERS_CONTENT_TYPE",
            b"ac",
            b"xabcx",
            b"a",
            b"",
        ];
        for source in sources {
            let parsed = Selector::parse(&format!("/{source}/"));
            assert!(
                matches!(parsed, Ok(Selector::Regex { .. })),
                "/{source}/: {parsed:?}"
            );
            let Ok(selector) = parsed else { continue };
            let Selector::Regex { regex, .. } = &selector else {
                continue;
            };
            for name in names {
                assert_eq!(
                    selector.selects(name),
                    regex.is_match(name),
                    "/{source}/ on {}",
                    String::from_utf8_lossy(name)
                );
            }
        }
    }
}
