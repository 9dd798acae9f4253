//! Request body parsing, one parser per content type. Parsers never fail:
//! anything malformed becomes a [`BodyFlag`] or [`Body::error`] that rules can
//! match, because smuggling hides exactly where parsers disagree.

pub mod json;
pub mod multipart;
pub mod urlencoded;
pub mod xml;

use crate::request::{Arg, Header};

/// Which parser handled the body (REQBODY_PROCESSOR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processor {
    UrlEncoded,
    Json,
    Multipart,
    Xml,
    /// Unknown content type: only the raw body is available.
    Raw,
}

impl Processor {
    /// The ModSecurity name, as rules compare against it.
    pub fn name(self) -> &'static str {
        match self {
            Processor::UrlEncoded => "URLENCODED",
            Processor::Json => "JSON",
            Processor::Multipart => "MULTIPART",
            Processor::Xml => "XML",
            Processor::Raw => "",
        }
    }

    /// A processor by its ModSecurity name, case-insensitively, as
    /// `ctl:requestBodyProcessor=XML` names it.
    pub fn from_name(name: &str) -> Option<Processor> {
        [
            Processor::UrlEncoded,
            Processor::Json,
            Processor::Multipart,
            Processor::Xml,
        ]
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

/// Anomalies a parser noticed. Each is a variable rules can target
/// (`multipart_unmatched_boundary`, `reqbody_charset_invalid`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BodyFlag {
    MultipartBoundaryQuoted,
    MultipartBoundaryWhitespace,
    /// `boundary=` given twice in Content-Type.
    MultipartBoundaryDuplicate,
    MultipartDataBefore,
    MultipartDataAfter,
    MultipartHeaderFolding,
    MultipartLfLine,
    MultipartMissingSemicolon,
    MultipartInvalidQuoting,
    MultipartInvalidPart,
    MultipartInvalidHeaderFolding,
    /// A delimiter line that does not match the declared boundary, or a part
    /// body that never meets its closing delimiter.
    MultipartUnmatchedBoundary,
    /// The final `--boundary--` never appeared.
    MultipartMissingTerminator,
    MultipartFileLimitExceeded,
    /// A `charset` parameter we cannot decode (not UTF-8, ASCII, ISO-8859-1/-15
    /// or windows-1252).
    CharsetInvalid,
    /// More arguments than `BodyLimits::max_args`; the rest were not parsed.
    ArgsLimitExceeded,
    /// JSON nested deeper than `BodyLimits::max_depth`.
    DepthLimitExceeded,
    /// An XML `&...;` reference that is not one of the five predefined
    /// entities or a valid character reference (DTD entities are never
    /// expanded); it is kept as written.
    XmlUndefinedEntity,
}

impl BodyFlag {
    pub const ALL: [BodyFlag; 18] = [
        BodyFlag::MultipartBoundaryQuoted,
        BodyFlag::MultipartBoundaryWhitespace,
        BodyFlag::MultipartBoundaryDuplicate,
        BodyFlag::MultipartDataBefore,
        BodyFlag::MultipartDataAfter,
        BodyFlag::MultipartHeaderFolding,
        BodyFlag::MultipartLfLine,
        BodyFlag::MultipartMissingSemicolon,
        BodyFlag::MultipartInvalidQuoting,
        BodyFlag::MultipartInvalidPart,
        BodyFlag::MultipartInvalidHeaderFolding,
        BodyFlag::MultipartUnmatchedBoundary,
        BodyFlag::MultipartMissingTerminator,
        BodyFlag::MultipartFileLimitExceeded,
        BodyFlag::CharsetInvalid,
        BodyFlag::ArgsLimitExceeded,
        BodyFlag::DepthLimitExceeded,
        BodyFlag::XmlUndefinedEntity,
    ];

    /// The variable name rules use for this flag.
    pub fn variable_name(self) -> &'static str {
        match self {
            BodyFlag::MultipartBoundaryQuoted => "multipart_boundary_quoted",
            BodyFlag::MultipartBoundaryWhitespace => "multipart_boundary_whitespace",
            BodyFlag::MultipartBoundaryDuplicate => "multipart_boundary_duplicate",
            BodyFlag::MultipartDataBefore => "multipart_data_before",
            BodyFlag::MultipartDataAfter => "multipart_data_after",
            BodyFlag::MultipartHeaderFolding => "multipart_header_folding",
            BodyFlag::MultipartLfLine => "multipart_lf_line",
            BodyFlag::MultipartMissingSemicolon => "multipart_missing_semicolon",
            BodyFlag::MultipartInvalidQuoting => "multipart_invalid_quoting",
            BodyFlag::MultipartInvalidPart => "multipart_invalid_part",
            BodyFlag::MultipartInvalidHeaderFolding => "multipart_invalid_header_folding",
            BodyFlag::MultipartUnmatchedBoundary => "multipart_unmatched_boundary",
            BodyFlag::MultipartMissingTerminator => "multipart_missing_terminator",
            BodyFlag::MultipartFileLimitExceeded => "multipart_file_limit_exceeded",
            BodyFlag::CharsetInvalid => "reqbody_charset_invalid",
            BodyFlag::ArgsLimitExceeded => "reqbody_args_limit_exceeded",
            BodyFlag::DepthLimitExceeded => "reqbody_depth_limit_exceeded",
            BodyFlag::XmlUndefinedEntity => "xml_undefined_entity",
        }
    }

    /// Flags that make up MULTIPART_STRICT_ERROR.
    pub fn is_multipart_strict(self) -> bool {
        !matches!(
            self,
            BodyFlag::CharsetInvalid
                | BodyFlag::ArgsLimitExceeded
                | BodyFlag::DepthLimitExceeded
                | BodyFlag::XmlUndefinedEntity
        )
    }
}

/// One uploaded file (a multipart part with a `filename`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilePart {
    /// The part's `name=` (FILES_NAMES).
    pub field_name: Vec<u8>,
    /// The part's `filename=` (FILES).
    pub filename: Vec<u8>,
    pub content_type: Vec<u8>,
    pub size: usize,
}

/// Limits that bound parser work. Every one is plugin configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyLimits {
    /// Arguments (form fields, JSON leaves, multipart parts) kept per body.
    pub max_args: usize,
    /// JSON and XML nesting depth parsed.
    pub max_depth: usize,
    /// Multipart parts parsed.
    pub max_parts: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            max_args: 1000,
            max_depth: 64,
            max_parts: 1000,
        }
    }
}

/// A parsed request body.
#[derive(Clone, Debug)]
pub struct Body {
    pub raw: Vec<u8>,
    pub processor: Processor,
    /// ARGS_POST: form fields, flattened JSON leaves (`user.name`, `items.0`),
    /// multipart non-file fields.
    pub args: Vec<Arg>,
    pub files: Vec<FilePart>,
    /// Headers of every multipart part, in order (MULTIPART_PART_HEADERS):
    /// named after the part's field, each value a whole `Name: value` line.
    pub part_headers: Vec<Header>,
    /// XML: character data of every text node and CDATA section, entities
    /// decoded, whitespace-only nodes skipped (`XML:/*`).
    pub xml_text: Vec<Vec<u8>>,
    /// XML: every attribute value, entities decoded (`XML://@*`).
    pub xml_attrs: Vec<Vec<u8>>,
    pub flags: Vec<BodyFlag>,
    /// REQBODY_ERROR: the parser could not make sense of the body.
    pub error: Option<String>,
    /// The body was cut at the configured limit before parsing.
    pub truncated: bool,
}

impl Body {
    pub fn has_flag(&self, flag: BodyFlag) -> bool {
        self.flags.contains(&flag)
    }

    fn raw_only(raw: Vec<u8>, truncated: bool) -> Body {
        Body {
            raw,
            processor: Processor::Raw,
            args: Vec::new(),
            files: Vec::new(),
            part_headers: Vec::new(),
            xml_text: Vec::new(),
            xml_attrs: Vec::new(),
            flags: Vec::new(),
            error: None,
            truncated,
        }
    }
}

/// Charsets the parsers read as they are; anything else may hide an attack
/// in an encoding we do not decode, so it is flagged.
const READABLE_CHARSETS: &[&[u8]] = &[
    b"utf-8",
    b"utf8",
    b"us-ascii",
    b"ascii",
    b"iso-8859-1",
    b"latin1",
    // ASCII supersets like Latin-1: byte matching sees ASCII payloads as
    // written (CRS 920480 allows the same charsets).
    b"iso-8859-15",
    b"windows-1252",
];

/// Chooses a parser from the Content-Type (media type case-insensitive,
/// parameters ignored for the choice) and runs it. `forced` overrides the
/// choice (`ctl:requestBodyProcessor`); the Content-Type then only supplies
/// parameters (boundary, charset).
pub fn parse(
    content_type: Option<&[u8]>,
    raw: Vec<u8>,
    truncated: bool,
    limits: &BodyLimits,
    forced: Option<Processor>,
) -> Body {
    let mut body = Body::raw_only(raw, truncated);
    if content_type.is_none() && forced.is_none() {
        return body;
    }
    let content_type = content_type.unwrap_or_default();
    if !charset_readable(content_type) {
        body.flags.push(BodyFlag::CharsetInvalid);
    }
    let processor = forced.unwrap_or_else(|| processor_for(content_type));
    match processor {
        Processor::UrlEncoded => urlencoded::parse(&mut body, limits),
        Processor::Multipart => multipart::parse(&mut body, content_type, limits),
        Processor::Json => json::parse(&mut body, limits),
        Processor::Xml => xml::parse(&mut body, limits),
        Processor::Raw => {}
    }
    body
}

/// The parser for a Content-Type's media type ([`Processor::Raw`] when none fits).
pub fn processor_for(content_type: &[u8]) -> Processor {
    let media = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default();
    let media = media.trim_ascii().to_ascii_lowercase();
    if media == b"application/x-www-form-urlencoded" {
        Processor::UrlEncoded
    } else if media == b"multipart/form-data" {
        Processor::Multipart
    } else if media.ends_with(b"/json") || media.ends_with(b"+json") {
        Processor::Json
    } else if media == b"text/xml" || media == b"application/xml" || media.ends_with(b"+xml") {
        Processor::Xml
    } else {
        Processor::Raw
    }
}

/// Whether a Content-Type's `charset` (if any) is one the parsers read as
/// bytes. A body in UTF-7 or EBCDIC hides a payload from byte matching, so
/// the caller flags it; used for the body and for each multipart part.
fn charset_readable(content_type: &[u8]) -> bool {
    param(content_type, b"charset")
        .is_none_or(|c| READABLE_CHARSETS.contains(&c.to_ascii_lowercase().as_slice()))
}

/// A Content-Type parameter's value, unquoted.
fn param<'a>(content_type: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    content_type.split(|&b| b == b';').skip(1).find_map(|p| {
        let eq = p.iter().position(|&b| b == b'=')?;
        if !p[..eq].trim_ascii().eq_ignore_ascii_case(name) {
            return None;
        }
        let v = p[eq + 1..].trim_ascii();
        Some(
            v.strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(v),
        )
    })
}
