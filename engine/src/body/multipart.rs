//! `multipart/form-data` bodies (RFC 7578), parsed strictly: every place
//! where two parsers could disagree about where a part starts or what it is
//! called — the boundary parameter, delimiter lines, part headers, the
//! Content-Disposition parameters — raises a [`BodyFlag`] instead of being
//! silently smoothed over, because request smuggling lives in exactly those
//! disagreements. Parts with a `filename` become files; others arguments.

use memchr::memmem;

use super::{Body, BodyFlag, BodyLimits, FilePart, Processor};
use crate::request::query::percent_decode;
use crate::request::{Arg, Header};

/// RFC 2046 caps boundaries at 70 characters.
const MAX_BOUNDARY: usize = 70;

pub fn parse(body: &mut Body, content_type: &[u8], limits: &BodyLimits) {
    body.processor = Processor::Multipart;
    let boundary = match boundary(content_type, &mut body.flags) {
        Ok(b) => b,
        Err(e) => {
            body.error = Some(format!("multipart: {e}"));
            return;
        }
    };
    let raw = std::mem::take(&mut body.raw);
    parse_parts(body, &raw, &boundary, limits);
    body.raw = raw;
}

/// The `boundary` parameter, flagging quoting, whitespace and duplicates.
fn boundary(content_type: &[u8], flags: &mut Vec<BodyFlag>) -> Result<Vec<u8>, String> {
    let mut found: Option<Vec<u8>> = None;
    for param in content_type.split(|&b| b == b';').skip(1) {
        let Some(eq) = param.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (name, value) = (&param[..eq], &param[eq + 1..]);
        if !trim(name).eq_ignore_ascii_case(b"boundary") {
            continue;
        }
        if found.is_some() {
            flags.push(BodyFlag::MultipartBoundaryDuplicate);
            continue;
        }
        if name.last().is_some_and(u8::is_ascii_whitespace)
            || value.first().is_some_and(u8::is_ascii_whitespace)
        {
            flags.push(BodyFlag::MultipartBoundaryWhitespace);
        }
        let mut value = trim(value);
        if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
            flags.push(BodyFlag::MultipartBoundaryQuoted);
            value = &value[1..value.len() - 1];
        } else if value.contains(&b'"') {
            flags.push(BodyFlag::MultipartInvalidQuoting);
        }
        if value.iter().any(u8::is_ascii_whitespace) {
            flags.push(BodyFlag::MultipartBoundaryWhitespace);
        }
        found = Some(value.to_vec());
    }
    match found {
        None => Err("no boundary in Content-Type".to_string()),
        Some(b) if b.is_empty() => Err("empty boundary".to_string()),
        Some(b) if b.len() > MAX_BOUNDARY => {
            Err(format!("boundary longer than {MAX_BOUNDARY} bytes"))
        }
        Some(b) => Ok(b),
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}

/// Splits a line off `rest`: (line without terminator, rest after it, ended with bare LF).
fn take_line(rest: &[u8]) -> (&[u8], &[u8], bool) {
    match memchr::memchr(b'\n', rest) {
        Some(i) if i > 0 && rest[i - 1] == b'\r' => (&rest[..i - 1], &rest[i + 1..], false),
        Some(i) => (&rest[..i], &rest[i + 1..], true),
        None => (rest, &[], false),
    }
}

fn parse_parts(body: &mut Body, raw: &[u8], boundary: &[u8], limits: &BodyLimits) {
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(boundary);
    // The first delimiter: at the very start, or at the start of a line.
    let first = if raw.starts_with(&delimiter) {
        Some(0)
    } else {
        memmem::find(raw, &[b"\n", delimiter.as_slice()].concat()).map(|i| i + 1)
    };
    let Some(first) = first else {
        if body.truncated {
            return;
        }
        body.error = Some("multipart: no part delimiter found".to_string());
        body.flags.push(BodyFlag::MultipartMissingTerminator);
        return;
    };
    if raw[..first].iter().any(|b| !matches!(b, b'\r' | b'\n')) {
        body.flags.push(BodyFlag::MultipartDataBefore);
    }
    let mut rest = &raw[first + delimiter.len()..];
    let mut parts = 0usize;
    loop {
        // Just after a delimiter: `--` closes, else the line must end.
        if let Some(after) = rest.strip_prefix(b"--") {
            // Only line ends may follow the closing delimiter.
            if !trim(after).is_empty() {
                body.flags.push(BodyFlag::MultipartDataAfter);
            }
            return;
        }
        let (line, after, lf) = take_line(rest);
        if lf {
            body.flags.push(BodyFlag::MultipartLfLine);
        }
        if !trim(line).is_empty() {
            // Text after the delimiter on the same line: a look-alike boundary.
            body.flags.push(BodyFlag::MultipartUnmatchedBoundary);
        }
        if after.is_empty() {
            if !body.truncated {
                body.flags.push(BodyFlag::MultipartMissingTerminator);
            }
            return;
        }
        parts += 1;
        if parts > limits.max_parts {
            body.flags.push(BodyFlag::MultipartFileLimitExceeded);
            return;
        }
        // Part headers, up to the empty line.
        let mut rest_h = after;
        let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        loop {
            let (line, next, lf) = take_line(rest_h);
            if lf {
                body.flags.push(BodyFlag::MultipartLfLine);
            }
            if next.is_empty() && !rest_h.ends_with(b"\n") {
                if !body.truncated {
                    body.flags.push(BodyFlag::MultipartMissingTerminator);
                    body.flags.push(BodyFlag::MultipartInvalidPart);
                }
                return;
            }
            rest_h = next;
            if line.is_empty() {
                break;
            }
            if line[0] == b' ' || line[0] == b'\t' {
                match headers.last_mut() {
                    Some((_, value)) => {
                        body.flags.push(BodyFlag::MultipartHeaderFolding);
                        value.push(b' ');
                        value.extend_from_slice(trim(line));
                    }
                    None => body.flags.push(BodyFlag::MultipartInvalidHeaderFolding),
                }
                continue;
            }
            match line.iter().position(|&b| b == b':') {
                Some(colon) => headers.push((
                    trim(&line[..colon]).to_vec(),
                    trim(&line[colon + 1..]).to_vec(),
                )),
                None => body.flags.push(BodyFlag::MultipartInvalidPart),
            }
        }
        // Part content, up to the next delimiter line.
        let (content, next, closed) = match find_delimiter(rest_h, &delimiter) {
            Some((end, resume)) => (&rest_h[..end], &rest_h[resume..], true),
            None => (rest_h, &[][..], false),
        };
        flag_lookalike_delimiters(content, &delimiter, &mut body.flags);
        store_part(body, &headers, content, limits);
        if !closed {
            if !body.truncated {
                body.flags.push(BodyFlag::MultipartMissingTerminator);
            }
            return;
        }
        rest = next;
    }
}

/// Finds `\r\n--boundary` (or `\n--boundary`, flagged by the caller's LF
/// checks): returns where the content ends and where the delimiter ends.
fn find_delimiter(hay: &[u8], delimiter: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = memmem::find(&hay[from..], delimiter) {
        let at = from + i;
        if at == 0 {
            return Some((0, delimiter.len()));
        }
        if hay[at - 1] == b'\n' {
            let end = if at >= 2 && hay[at - 2] == b'\r' {
                at - 2
            } else {
                at - 1
            };
            return Some((end, at + delimiter.len()));
        }
        from = at + 1;
    }
    None
}

/// A line inside content that looks like a delimiter but is not ours.
fn flag_lookalike_delimiters(content: &[u8], delimiter: &[u8], flags: &mut Vec<BodyFlag>) {
    let boundary_char = |b: &u8| b.is_ascii_alphanumeric() || b"'()+_,-./:=?".contains(b);
    // Only a line that starts with `--` can look like one: find those by
    // `\n--` instead of splitting every line of an upload byte by byte.
    let starts = std::iter::once(0).chain(memmem::find_iter(content, b"\n--").map(|at| at + 1));
    for start in starts {
        let rest = &content[start..];
        let line = &rest[..memchr::memchr(b'\n', rest).unwrap_or(rest.len())];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() >= 12
            && line.starts_with(b"--")
            && !line.starts_with(delimiter)
            && line.iter().all(boundary_char)
        {
            flags.push(BodyFlag::MultipartUnmatchedBoundary);
            return;
        }
    }
}

/// Records a part as an argument or a file, with its headers.
fn store_part(
    body: &mut Body,
    headers: &[(Vec<u8>, Vec<u8>)],
    content: &[u8],
    limits: &BodyLimits,
) {
    let disposition = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(b"content-disposition"))
        .and_then(|(_, v)| content_disposition(v, &mut body.flags));
    // MULTIPART_PART_HEADERS as ModSecurity keeps it: members named after
    // the part's field, each value a whole `Name: value` header line (CRS
    // matches `^content-type\s*:` against it). Headers of a part without a
    // usable disposition are kept too, under an empty name.
    let part_name = disposition
        .as_ref()
        .map(|d| d.name.clone())
        .unwrap_or_default();
    for (name, value) in headers {
        let mut line = Vec::with_capacity(name.len() + 2 + value.len());
        line.extend_from_slice(name);
        line.extend_from_slice(b": ");
        line.extend_from_slice(value);
        body.part_headers.push(Header::new(part_name.clone(), line));
    }
    let Some(d) = disposition else {
        body.flags.push(BodyFlag::MultipartInvalidPart);
        return;
    };
    let content_type = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(b"content-type"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    // A part in UTF-7 or EBCDIC smuggles its value past byte matching just
    // as a whole body would.
    if !super::charset_readable(&content_type) {
        body.flags.push(BodyFlag::CharsetInvalid);
    }
    if let Some(filename) = d.filename {
        body.files.push(FilePart {
            field_name: d.name,
            filename,
            content_type,
            size: content.len(),
        });
    } else if body.args.len() < limits.max_args {
        body.args.push(Arg::new(d.name, content));
    } else if !body.flags.contains(&BodyFlag::ArgsLimitExceeded) {
        body.flags.push(BodyFlag::ArgsLimitExceeded);
    }
}

struct Disposition {
    name: Vec<u8>,
    filename: Option<Vec<u8>>,
}

/// `form-data; name="a"; filename="b.txt"`. `None` when it is not form-data
/// or has no name.
fn content_disposition(value: &[u8], flags: &mut Vec<BodyFlag>) -> Option<Disposition> {
    let rest = value
        .get(9..)
        .filter(|_| value[..9.min(value.len())].eq_ignore_ascii_case(b"form-data"))?;
    let mut name = None;
    let mut filename = None;
    let mut i = 0;
    let mut first = true;
    loop {
        while rest.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        if i >= rest.len() {
            break;
        }
        if rest[i] == b';' {
            i += 1;
        } else {
            // Parameters must be separated by `;`.
            flags.push(BodyFlag::MultipartMissingSemicolon);
            if first && !rest[i].is_ascii_alphabetic() {
                return None;
            }
        }
        first = false;
        while rest.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        let key_start = i;
        while rest.get(i).is_some_and(|&b| b != b'=' && b != b';') {
            i += 1;
        }
        let key = trim(&rest[key_start..i]).to_ascii_lowercase();
        if rest.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while rest.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        let val = match rest.get(i) {
            Some(b'"') => {
                i += 1;
                let mut v = Vec::new();
                loop {
                    match rest.get(i) {
                        None => {
                            flags.push(BodyFlag::MultipartInvalidQuoting);
                            break;
                        }
                        Some(b'\\') if matches!(rest.get(i + 1), Some(b'"' | b'\\')) => {
                            v.push(rest[i + 1]);
                            i += 2;
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(&b) => {
                            v.push(b);
                            i += 1;
                        }
                    }
                }
                v
            }
            Some(b'\'') => {
                flags.push(BodyFlag::MultipartInvalidQuoting);
                let start = i;
                while rest.get(i).is_some_and(|&b| b != b';') {
                    i += 1;
                }
                rest[start..i].to_vec()
            }
            _ => {
                let start = i;
                while rest
                    .get(i)
                    .is_some_and(|&b| b != b';' && !b.is_ascii_whitespace())
                {
                    i += 1;
                }
                rest[start..i].to_vec()
            }
        };
        match key.as_slice() {
            b"name" => {
                if name.is_some() {
                    flags.push(BodyFlag::MultipartInvalidPart);
                }
                name = Some(val);
            }
            b"filename" => filename = Some(val),
            b"filename*" => {
                // RFC 5987: charset'lang'percent-encoded
                let encoded = val.rsplit(|&b| b == b'\'').next().unwrap_or(&val);
                filename = Some(percent_decode(encoded, false).0.into_owned());
            }
            _ => {}
        }
    }
    Some(Disposition {
        name: name?,
        filename,
    })
}
