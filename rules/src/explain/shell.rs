//! Shell-style word splitting for `palisade explain --curl`: enough of POSIX
//! `sh` quoting to read the commands browsers and API docs print ("Copy as
//! cURL"). No expansion is done: `$VAR` and `$(...)` stay as written.

/// Splits a command line into words: whitespace separates; `'...'` is
/// literal; `"..."` honours `\"`, `\\`, `\$` and `` \` ``; `$'...'` takes
/// C escapes (`\n`, `\t`, `\r`, `\\`, `\'`, `\"`, `\xHH`); a backslash
/// outside quotes escapes the next character, and before a newline joins
/// lines.
///
/// # Errors
/// A message for an unterminated quote or a trailing backslash.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word may be empty (`''`), so "in a word" is tracked apart from its text.
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some('\r') if chars.peek() == Some(&'\n') => {
                    chars.next();
                }
                Some(next) => {
                    word.push(next);
                    in_word = true;
                }
                None => return Err("trailing backslash".to_string()),
            },
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => word.push(ch),
                        None => return Err("unterminated single quote".to_string()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => word.push(e),
                            Some('\n') => {}
                            Some(other) => {
                                word.push('\\');
                                word.push(other);
                            }
                            None => return Err("unterminated double quote".to_string()),
                        },
                        Some(ch) => word.push(ch),
                        None => return Err("unterminated double quote".to_string()),
                    }
                }
            }
            '$' if chars.peek() == Some(&'\'') => {
                chars.next();
                in_word = true;
                ansi_c(&mut chars, &mut word)?;
            }
            other => {
                word.push(other);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// The inside of `$'...'`, up to and including the closing quote.
fn ansi_c(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    word: &mut String,
) -> Result<(), String> {
    loop {
        match chars.next() {
            Some('\'') => return Ok(()),
            Some('\\') => match chars.next() {
                Some('n') => word.push('\n'),
                Some('t') => word.push('\t'),
                Some('r') => word.push('\r'),
                Some('0') => word.push('\0'),
                Some('x') => {
                    let mut hex = String::new();
                    while hex.len() < 2 && chars.peek().is_some_and(char::is_ascii_hexdigit) {
                        hex.extend(chars.next());
                    }
                    match u8::from_str_radix(&hex, 16) {
                        Ok(b) => word.push(char::from(b)),
                        Err(_) => word.push_str("\\x"),
                    }
                }
                Some(e @ ('\\' | '\'' | '"' | '?')) => word.push(e),
                Some(other) => {
                    word.push('\\');
                    word.push(other);
                }
                None => break,
            },
            Some(ch) => word.push(ch),
            None => break,
        }
    }
    Err("unterminated $'...' quote".to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::split;

    #[test]
    fn quoting() {
        assert_eq!(
            split(r#"curl -H 'A: b c' "x\"y" a\ b $'p\tq' ''"#).unwrap(),
            ["curl", "-H", "A: b c", "x\"y", "a b", "p\tq", ""]
        );
        assert_eq!(split("a \\\n  b").unwrap(), ["a", "b"]);
        assert!(split("'open").is_err());
    }
}
