//! Lexer and parser for SecLang text.

use std::path::{Path, PathBuf};

use super::{ActionRef, Directive, Location, OperatorRef, ParseError, SecRule, VariableRef};

/// How deep `Include`s may nest before the parser gives up (cycles).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Parses files in order, following `Include` (glob patterns like
/// `rules/*.conf`, relative to the including file's directory; sorted).
pub fn parse_files(paths: &[PathBuf]) -> Result<Vec<Directive>, ParseError> {
    let mut parser = Parser::default();
    for path in paths {
        let text = read(path, None)?;
        parser.parse_text(&text, path, 0)?;
    }
    Ok(parser.out)
}

/// Parses one text; `file` is used for locations and relative Includes.
pub fn parse_str(text: &str, file: &Path) -> Result<Vec<Directive>, ParseError> {
    let mut parser = Parser::default();
    parser.parse_text(text, file, 0)?;
    Ok(parser.out)
}

fn err(location: &Location, message: impl Into<String>) -> ParseError {
    ParseError {
        location: location.clone(),
        message: message.into(),
    }
}

fn read(path: &Path, from: Option<&Location>) -> Result<String, ParseError> {
    std::fs::read_to_string(path).map_err(|e| {
        let location = from.cloned().unwrap_or_else(|| Location {
            file: path.to_path_buf(),
            line: 0,
        });
        err(&location, format!("cannot read {}: {e}", path.display()))
    })
}

/// A directive's text after comments and continuations, with its start line.
struct LogicalLine {
    line: usize,
    text: String,
}

/// Drops comments and blank lines and joins `\` continuations.
fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut out = Vec::new();
    let mut current: Option<LogicalLine> = None;
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if current.is_none() {
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
        }
        let (body, continues) = match raw.strip_suffix('\\') {
            Some(body) => (body, true),
            None => (raw, false),
        };
        match current.as_mut() {
            Some(cur) => cur.text.push_str(body),
            None => {
                current = Some(LogicalLine {
                    line: i + 1,
                    text: body.to_string(),
                })
            }
        }
        if !continues {
            if let Some(cur) = current.take() {
                if !cur.text.trim().is_empty() {
                    out.push(cur);
                }
            }
        }
    }
    // A continuation on the last line: keep what there is.
    if let Some(cur) = current {
        if !cur.text.trim().is_empty() {
            out.push(cur);
        }
    }
    out
}

/// Splits a directive line into words: whitespace-separated, optionally
/// quoted with `"` or `'`. Inside quotes a backslash before the quote
/// character is dropped; every other backslash is kept with the character
/// after it (so `\\"` ends the word with `\\`).
fn split_words(text: &str, location: &Location) -> Result<Vec<String>, ParseError> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            break;
        };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == first {
                    closed = true;
                    break;
                }
                if c == '\\' {
                    match chars.next() {
                        Some(n) if n == first => word.push(n),
                        Some(n) => {
                            word.push('\\');
                            word.push(n);
                        }
                        None => word.push('\\'),
                    }
                } else {
                    word.push(c);
                }
            }
            if !closed {
                return Err(err(
                    location,
                    format!("unterminated quote ({first}) in argument {}", words.len()),
                ));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    Ok(words)
}

/// Parses the variables argument of a `SecRule`: `A|!B:x|&C|D:/re|x/`.
pub(super) fn parse_variables(
    text: &str,
    location: &Location,
) -> Result<Vec<VariableRef>, ParseError> {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '|' {
            parts.push(std::mem::take(&mut cur));
            i += 1;
            continue;
        }
        if c == ':' && !cur.contains(':') {
            cur.push(c);
            i += 1;
            let collection = cur
                .trim()
                .trim_start_matches(['!', '&'])
                .trim_end_matches(':');
            // A quoted or /regex/ selector runs to its closing delimiter;
            // XML selectors are XPath (`/*`), not regexes.
            let delim = match chars.get(i) {
                Some('\'') => Some('\''),
                Some('/') if !collection.eq_ignore_ascii_case("XML") => Some('/'),
                _ => None,
            };
            if let Some(d) = delim {
                if let Some(end) = closing(&chars, i + 1, d) {
                    cur.extend(&chars[i..=end]);
                    i = end + 1;
                }
            }
            continue;
        }
        cur.push(c);
        i += 1;
    }
    parts.push(cur);

    parts
        .iter()
        .map(|part| parse_variable(part, location))
        .collect()
}

/// Index of the first unescaped `delim` at or after `from`.
fn closing(chars: &[char], from: usize, delim: char) -> Option<usize> {
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == delim => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn parse_variable(part: &str, location: &Location) -> Result<VariableRef, ParseError> {
    let mut s = part.trim();
    let mut exclude = false;
    let mut count = false;
    loop {
        if let Some(rest) = s.strip_prefix('!') {
            exclude = true;
            s = rest.trim_start();
        } else if let Some(rest) = s.strip_prefix('&') {
            count = true;
            s = rest.trim_start();
        } else {
            break;
        }
    }
    let (collection, selector) = match s.split_once(':') {
        Some((c, sel)) => {
            let sel = match sel.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
                Some(inner) => inner.replace("\\'", "'"),
                None => sel.to_string(),
            };
            (c.trim(), Some(sel))
        }
        None => (s, None),
    };
    if collection.is_empty() {
        return Err(err(
            location,
            format!("empty variable in `{}`", part.trim()),
        ));
    }
    Ok(VariableRef {
        exclude,
        count,
        collection: collection.to_string(),
        selector,
    })
}

/// Parses the operator argument of a `SecRule`: `[!]@name argument` or a
/// bare regex.
fn parse_operator(text: &str) -> OperatorRef {
    let mut s = text.trim_start();
    let negated = match s.strip_prefix('!') {
        Some(rest) => {
            s = rest.trim_start();
            true
        }
        None => false,
    };
    match s.strip_prefix('@') {
        Some(rest) => {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let name = &rest[..end];
            let mut argument = &rest[end..];
            if let Some(c) = argument.chars().next() {
                argument = &argument[c.len_utf8()..];
            }
            OperatorRef {
                negated,
                name: name.to_string(),
                argument: argument.to_string(),
            }
        }
        None => OperatorRef {
            negated,
            name: "rx".to_string(),
            argument: s.to_string(),
        },
    }
}

/// Parses an actions argument: `id:1,phase:2,msg:'a, b',t:none`.
fn parse_actions(text: &str) -> Vec<ActionRef> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '\'' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);

    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once(':') {
            Some((name, value)) => {
                let value = value.trim();
                let value = match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
                    Some(inner) if value.len() >= 2 => inner.replace("\\'", "'"),
                    _ => value.to_string(),
                };
                ActionRef {
                    name: name.trim().to_string(),
                    value: Some(value),
                }
            }
            None => ActionRef {
                name: p.to_string(),
                value: None,
            },
        })
        .collect()
}

fn has_chain(actions: &[ActionRef]) -> bool {
    actions.iter().any(|a| a.name.eq_ignore_ascii_case("chain"))
}

#[derive(Default)]
struct Parser {
    out: Vec<Directive>,
    /// Rules with `chain` waiting for their next link, outermost first.
    chain: Vec<SecRule>,
    /// Canonical paths of the files being parsed, for Include cycles.
    stack: Vec<PathBuf>,
}

impl Parser {
    fn parse_text(&mut self, text: &str, file: &Path, depth: usize) -> Result<(), ParseError> {
        let canonical = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        self.stack.push(canonical);
        for line in logical_lines(text) {
            let location = Location {
                file: file.to_path_buf(),
                line: line.line,
            };
            self.directive(&line.text, location, file, depth)?;
        }
        self.stack.pop();
        if let Some(last) = self.chain.last() {
            return Err(err(
                &last.location,
                "rule has the `chain` action but no rule follows it in this file",
            ));
        }
        Ok(())
    }

    fn directive(
        &mut self,
        text: &str,
        location: Location,
        file: &Path,
        depth: usize,
    ) -> Result<(), ParseError> {
        let mut words = split_words(text, &location)?;
        if words.is_empty() {
            return Ok(());
        }
        let name = words.remove(0);
        let args = words;
        let lower = name.to_ascii_lowercase();

        if !self.chain.is_empty() && lower != "secrule" && lower != "secaction" {
            return Err(err(
                &location,
                format!("`{name}` inside a chain: expected SecRule or SecAction"),
            ));
        }

        match lower.as_str() {
            "secrule" => {
                if args.len() != 2 && args.len() != 3 {
                    return Err(err(
                        &location,
                        format!(
                            "SecRule takes 2 or 3 arguments (VARIABLES OPERATOR [ACTIONS]), found {}",
                            args.len()
                        ),
                    ));
                }
                let variables = parse_variables(&args[0], &location)?;
                let operator = parse_operator(&args[1]);
                let actions = args.get(2).map(|a| parse_actions(a)).unwrap_or_default();
                self.rule(SecRule {
                    location,
                    variables,
                    operator,
                    actions,
                    chained: None,
                });
            }
            "secaction" => {
                if args.len() != 1 {
                    return Err(err(
                        &location,
                        format!("SecAction takes 1 argument (ACTIONS), found {}", args.len()),
                    ));
                }
                let actions = parse_actions(&args[0]);
                self.rule(SecRule {
                    location,
                    variables: Vec::new(),
                    operator: OperatorRef {
                        negated: false,
                        name: "unconditionalMatch".to_string(),
                        argument: String::new(),
                    },
                    actions,
                    chained: None,
                });
            }
            "secmarker" => {
                let [marker] = args.as_slice() else {
                    return Err(err(
                        &location,
                        format!("SecMarker takes 1 argument, found {}", args.len()),
                    ));
                };
                self.out.push(Directive::Marker {
                    location,
                    name: marker.clone(),
                });
            }
            "secdefaultaction" => {
                let [actions] = args.as_slice() else {
                    return Err(err(
                        &location,
                        format!("SecDefaultAction takes 1 argument, found {}", args.len()),
                    ));
                };
                self.out.push(Directive::DefaultAction {
                    location,
                    actions: parse_actions(actions),
                });
            }
            "include" | "includeoptional" => {
                let [pattern] = args.as_slice() else {
                    return Err(err(
                        &location,
                        format!("{name} takes 1 argument, found {}", args.len()),
                    ));
                };
                self.include(pattern, lower == "includeoptional", &location, file, depth)?;
            }
            _ => self.out.push(Directive::Other {
                location,
                name,
                args,
            }),
        }
        Ok(())
    }

    /// Adds a rule, folding it into a pending chain.
    fn rule(&mut self, rule: SecRule) {
        if has_chain(&rule.actions) {
            self.chain.push(rule);
            return;
        }
        let mut folded = rule;
        while let Some(mut parent) = self.chain.pop() {
            parent.chained = Some(Box::new(folded));
            folded = parent;
        }
        self.out.push(Directive::Rule(folded));
    }

    fn include(
        &mut self,
        pattern: &str,
        optional: bool,
        location: &Location,
        file: &Path,
        depth: usize,
    ) -> Result<(), ParseError> {
        if depth + 1 > MAX_INCLUDE_DEPTH {
            return Err(err(
                location,
                format!("Include nested more than {MAX_INCLUDE_DEPTH} deep (cycle?)"),
            ));
        }
        let base = file.parent().unwrap_or_else(|| Path::new(""));
        let target = base.join(pattern);
        let files = expand(&target, location)?;
        if files.is_empty() {
            if optional {
                return Ok(());
            }
            return Err(err(
                location,
                format!("Include `{pattern}`: no file matches {}", target.display()),
            ));
        }
        for path in files {
            let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if self.stack.contains(&canonical) {
                return Err(err(
                    location,
                    format!("Include cycle: {} is already being parsed", path.display()),
                ));
            }
            let text = read(&path, Some(location))?;
            self.parse_text(&text, &path, depth + 1)?;
        }
        Ok(())
    }
}

/// Expands `*` and `?` in the last component of `path`; sorted. A path
/// without wildcards expands to itself when it exists.
fn expand(path: &Path, location: &Location) -> Result<Vec<PathBuf>, ParseError> {
    let is_glob = |s: &str| s.contains(['*', '?']);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(if path.is_file() {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        });
    };
    let dir = path.parent().unwrap_or_else(|| Path::new(""));
    if is_glob(&dir.to_string_lossy()) {
        return Err(err(
            location,
            format!(
                "Include {}: wildcards are only supported in the last path component",
                path.display()
            ),
        ));
    }
    if !is_glob(name) {
        return Ok(if path.is_file() {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        });
    }
    let dir_for_read = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let entries = match std::fs::read_dir(dir_for_read) {
        Ok(entries) => entries,
        Err(_) => return Ok(Vec::new()),
    };
    let pattern: Vec<char> = name.chars().collect();
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let entry_name = e.file_name();
            let entry_name = entry_name.to_string_lossy();
            let chars: Vec<char> = entry_name.chars().collect();
            glob_match(&pattern, &chars) && e.path().is_file()
        })
        .map(|e| dir.join(e.file_name()))
        .collect();
    out.sort();
    Ok(out)
}

/// `*` matches any run of characters, `?` any one character.
fn glob_match(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, n));
            p += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}
