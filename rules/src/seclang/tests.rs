//! Unit tests for the SecLang parser.

// Tests may panic: the workspace denies these lints for production code only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use super::*;

fn parse(text: &str) -> Vec<Directive> {
    match parse_str(text, Path::new("test.conf")) {
        Ok(d) => d,
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn parse_err(text: &str) -> ParseError {
    match parse_str(text, Path::new("test.conf")) {
        Ok(d) => panic!("expected an error, got {d:?}"),
        Err(e) => e,
    }
}

fn rule(d: &Directive) -> &SecRule {
    match d {
        Directive::Rule(r) => r,
        other => panic!("expected a rule, got {other:?}"),
    }
}

fn only_rule(text: &str) -> SecRule {
    let d = parse(text);
    assert_eq!(d.len(), 1, "{d:?}");
    rule(&d[0]).clone()
}

fn var(exclude: bool, count: bool, collection: &str, selector: Option<&str>) -> VariableRef {
    VariableRef {
        exclude,
        count,
        collection: collection.to_string(),
        selector: selector.map(str::to_string),
    }
}

fn act(name: &str, value: Option<&str>) -> ActionRef {
    ActionRef {
        name: name.to_string(),
        value: value.map(str::to_string),
    }
}

#[test]
fn basic_rule() {
    let r = only_rule(r#"SecRule ARGS "@rx foo" "id:1,phase:2,deny""#);
    assert_eq!(r.location.line, 1);
    assert_eq!(r.location.file, PathBuf::from("test.conf"));
    assert_eq!(r.variables, vec![var(false, false, "ARGS", None)]);
    assert_eq!(
        r.operator,
        OperatorRef {
            negated: false,
            name: "rx".into(),
            argument: "foo".into()
        }
    );
    assert_eq!(
        r.actions,
        vec![
            act("id", Some("1")),
            act("phase", Some("2")),
            act("deny", None)
        ]
    );
    assert_eq!(r.chained, None);
    assert_eq!(r.id(), Some("1"));
}

#[test]
fn comments_and_blank_lines() {
    let d = parse("# a comment\n\n   # indented comment\nSecRuleEngine On\n");
    assert_eq!(
        d,
        vec![Directive::Other {
            location: Location {
                file: "test.conf".into(),
                line: 4
            },
            name: "SecRuleEngine".into(),
            args: vec!["On".into()],
        }]
    );
}

#[test]
fn continuations() {
    let text = "# header\nSecRule REQUEST_HEADERS:User-Agent \\\n    \"@rx bad\" \\\n    \"id:2,\\\n    phase:1,\\\n    msg:'x'\"\nSecMarker END\n";
    let d = parse(text);
    assert_eq!(d.len(), 2);
    let r = rule(&d[0]);
    assert_eq!(r.location.line, 2);
    assert_eq!(
        r.variables,
        vec![var(false, false, "REQUEST_HEADERS", Some("User-Agent"))]
    );
    assert_eq!(r.operator.argument, "bad");
    assert_eq!(
        r.actions,
        vec![
            act("id", Some("2")),
            act("phase", Some("1")),
            act("msg", Some("x"))
        ]
    );
    assert_eq!(d[1].location().line, 7);
    assert!(matches!(&d[1], Directive::Marker { name, .. } if name == "END"));
}

#[test]
fn crlf_line_endings() {
    let d = parse("SecRule ARGS \"@rx a\" \\\r\n  \"id:1\"\r\nSecMarker M\r\n");
    assert_eq!(rule(&d[0]).actions, vec![act("id", Some("1"))]);
    assert!(matches!(&d[1], Directive::Marker { name, .. } if name == "M"));
}

#[test]
fn directive_names_case_insensitive() {
    let d = parse("secrule ARGS \"@rx a\" \"id:1\"\nSECACTION \"id:2\"\nsecmarker m\nsecdefaultaction \"phase:2,log\"\nsecruleengine On");
    assert!(matches!(&d[0], Directive::Rule(_)));
    assert!(matches!(&d[1], Directive::Rule(_)));
    assert!(matches!(&d[2], Directive::Marker { .. }));
    assert!(matches!(&d[3], Directive::DefaultAction { actions, .. } if actions.len() == 2));
    assert!(matches!(&d[4], Directive::Other { name, .. } if name == "secruleengine"));
}

#[test]
fn escaped_quotes_in_operator() {
    let r = only_rule(r#"SecRule ARGS "@rx a\"b" "id:1""#);
    assert_eq!(r.operator.argument, "a\"b");
}

#[test]
fn regex_backslashes_preserved() {
    let r = only_rule(r#"SecRule ARGS "@rx ^\d+\\x\.\/$" "id:1""#);
    assert_eq!(r.operator.argument, r"^\d+\\x\.\/$");
    // A regex ending in an escaped backslash right before the closing quote.
    let r = only_rule(r#"SecRule ARGS "@rx a\\" "id:1""#);
    assert_eq!(r.operator.argument, r"a\\");
    assert_eq!(r.actions, vec![act("id", Some("1"))]);
}

#[test]
fn unterminated_quote_is_error() {
    let e = parse_err("SecRuleEngine On\nSecRule ARGS \"@rx foo\\\" id:1\n");
    assert_eq!(e.location.line, 2);
    assert!(e.message.contains("unterminated"), "{e}");
    assert_eq!(e.to_string(), format!("test.conf:2: {}", e.message));
}

#[test]
fn wrong_arg_count_is_error() {
    let e = parse_err("SecRule ARGS");
    assert!(e.message.contains("SecRule"), "{e}");
    let e = parse_err("SecRule ARGS \"@rx a\" \"id:1\" extra");
    assert!(e.message.contains("found 4"), "{e}");
    assert!(parse_str("SecAction", Path::new("t")).is_err());
}

#[test]
fn two_argument_rule() {
    let r = only_rule("SecRule ARGS @detectSQLi");
    assert_eq!(r.operator.name, "detectSQLi");
    assert_eq!(r.operator.argument, "");
    assert!(r.actions.is_empty());
}

#[test]
fn variables_pipe_regex_and_quotes() {
    let r = only_rule(
        r#"SecRule REQUEST_COOKIES|!REQUEST_COOKIES:/^(a|b)\/x$/|ARGS_NAMES|&TX:x|!ARGS:'/c|d/'|XML:/*|XML://@* "@rx a" "id:1""#,
    );
    assert_eq!(
        r.variables,
        vec![
            var(false, false, "REQUEST_COOKIES", None),
            var(true, false, "REQUEST_COOKIES", Some(r"/^(a|b)\/x$/")),
            var(false, false, "ARGS_NAMES", None),
            var(false, true, "TX", Some("x")),
            var(true, false, "ARGS", Some("/c|d/")),
            var(false, false, "XML", Some("/*")),
            var(false, false, "XML", Some("//@*")),
        ]
    );
}

#[test]
fn selector_keeps_everything_after_first_colon() {
    let r = only_rule(r#"SecRule TX:a:b|REQUEST_HEADERS:User-Agent "@rx a" "id:1""#);
    assert_eq!(
        r.variables,
        vec![
            var(false, false, "TX", Some("a:b")),
            var(false, false, "REQUEST_HEADERS", Some("User-Agent")),
        ]
    );
}

#[test]
fn empty_variable_is_error() {
    let e = parse_err("SecRule ARGS||TX \"@rx a\" \"id:1\"");
    assert!(e.message.contains("empty variable"), "{e}");
    assert!(parse_str("SecRule \"\" \"@rx a\"", Path::new("t")).is_err());
    assert!(parse_str("SecRule ARGS|! \"@rx a\"", Path::new("t")).is_err());
}

#[test]
fn negated_operators() {
    let r = only_rule(r#"SecRule ARGS "!@within GET POST" "id:1""#);
    assert_eq!(
        r.operator,
        OperatorRef {
            negated: true,
            name: "within".into(),
            argument: "GET POST".into()
        }
    );
    let r = only_rule(r#"SecRule ARGS "!^\d$" "id:1""#);
    assert_eq!(
        r.operator,
        OperatorRef {
            negated: true,
            name: "rx".into(),
            argument: r"^\d$".into()
        }
    );
    let r = only_rule(r#"SecRule ARGS "@pmFromFile x.data" "id:1""#);
    assert_eq!(r.operator.name, "pmFromFile");
    assert_eq!(r.operator.argument, "x.data");
    let r = only_rule(r#"SecRule ARGS "@eq  0" "id:1""#);
    assert_eq!(r.operator.argument, " 0", "only one space is dropped");
}

#[test]
fn single_quoted_action_values() {
    let r = only_rule(
        r#"SecRule ARGS "@rx a" "id:1, msg:'a, b: c', setvar:'tx.a=+%{tx.b}',logdata:'it\'s',tag:'x' ,t:none""#,
    );
    assert_eq!(
        r.actions,
        vec![
            act("id", Some("1")),
            act("msg", Some("a, b: c")),
            act("setvar", Some("tx.a=+%{tx.b}")),
            act("logdata", Some("it's")),
            act("tag", Some("x")),
            act("t", Some("none")),
        ]
    );
}

#[test]
fn secaction() {
    let r = only_rule("SecAction \\\n  \"id:900000,\\\n  phase:1,\\\n  pass,\\\n  setvar:tx.x=1\"");
    assert!(r.variables.is_empty());
    assert_eq!(
        r.operator,
        OperatorRef {
            negated: false,
            name: "unconditionalMatch".into(),
            argument: String::new()
        }
    );
    assert_eq!(r.actions.len(), 4);
    assert_eq!(r.actions[3], act("setvar", Some("tx.x=1")));
}

#[test]
fn chains_of_three() {
    let d = parse(
        "SecRule A \"@rx 1\" \"id:1,chain\"\n  SecRule B \"@rx 2\" \"chain\"\n    SecRule C \"@rx 3\" \"t:none\"\nSecRule D \"@rx 4\" \"id:2\"\n",
    );
    assert_eq!(d.len(), 2);
    let r = rule(&d[0]);
    assert_eq!(r.chain_len(), 2);
    assert_eq!(r.variables[0].collection, "A");
    let b = r
        .chained
        .as_deref()
        .map(|b| (b.variables[0].collection.clone(), b.location.line));
    assert_eq!(b, Some(("B".to_string(), 2)));
    let c = r.chained.as_deref().and_then(|b| b.chained.as_deref());
    assert_eq!(c.map(|c| c.variables[0].collection.as_str()), Some("C"));
    assert_eq!(c.and_then(|c| c.chained.as_ref()), None);
    assert_eq!(rule(&d[1]).chained, None);
}

#[test]
fn chain_with_secaction_link() {
    let d = parse("SecRule A \"@rx 1\" \"id:1,chain\"\nSecAction \"setvar:tx.a=1\"");
    assert_eq!(d.len(), 1);
    let c = rule(&d[0])
        .chained
        .as_deref()
        .map(|c| c.operator.name.clone());
    assert_eq!(c.as_deref(), Some("unconditionalMatch"));
}

#[test]
fn chain_at_end_is_error() {
    let e = parse_err("SecRule A \"@rx 1\" \"id:1\"\nSecRule A \"@rx 1\" \"id:2,chain\"\n");
    assert_eq!(e.location.line, 2);
    assert!(e.message.contains("chain"), "{e}");
}

#[test]
fn other_directives_split_like_a_shell() {
    let d = parse(
        "SecRuleUpdateTargetById 942100 \"!REQUEST_COOKIES:/^_ga(?:_\\w+)?$/\"\nSecComponentSignature \"OWASP_CRS/4.28.0\"\nSecRuleRemoveByTag 'a b'\nFooBar",
    );
    let args: Vec<(String, Vec<String>)> = d
        .iter()
        .map(|d| match d {
            Directive::Other { name, args, .. } => (name.clone(), args.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        args,
        vec![
            (
                "SecRuleUpdateTargetById".to_string(),
                vec![
                    "942100".to_string(),
                    r"!REQUEST_COOKIES:/^_ga(?:_\w+)?$/".to_string()
                ]
            ),
            (
                "SecComponentSignature".to_string(),
                vec!["OWASP_CRS/4.28.0".to_string()]
            ),
            ("SecRuleRemoveByTag".to_string(), vec!["a b".to_string()]),
            ("FooBar".to_string(), vec![]),
        ]
    );
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "palisade-seclang-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn include_glob_relative_sorted() {
    let tmp = TempDir::new("glob");
    let main = tmp.write(
        "main.conf",
        "SecMarker BEGIN\nInclude rules/*.conf\nInclude other/single.conf\nSecMarker END\n",
    );
    tmp.write("rules/b.conf", "SecRule ARGS \"@rx b\" \"id:2\"\n");
    tmp.write(
        "rules/a.conf",
        "# a\nSecRule ARGS \"@rx a\" \"id:1\"\nInclude ../other/nested?.conf\n",
    );
    tmp.write("rules/c.conf.example", "SecRule ARGS \"@rx c\" \"id:3\"\n");
    tmp.write("other/single.conf", "SecAction \"id:4\"\n");
    tmp.write("other/nested1.conf", "SecAction \"id:5\"\n");
    let d = match parse_files(std::slice::from_ref(&main)) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let summary: Vec<String> = d
        .iter()
        .map(|d| match d {
            Directive::Rule(r) => format!(
                "{}:{}:{}",
                r.location.file.file_name().unwrap().to_string_lossy(),
                r.location.line,
                r.id().unwrap_or("-")
            ),
            Directive::Marker { name, .. } => name.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            "BEGIN",
            "a.conf:2:1",
            "nested1.conf:1:5",
            "b.conf:1:2",
            "single.conf:1:4",
            "END"
        ]
    );

    // parse_str resolves relative to the given file's directory too.
    let d = parse_str("Include other/single.conf", &main).unwrap();
    assert_eq!(d.len(), 1);
}

#[test]
fn include_errors() {
    let tmp = TempDir::new("errors");
    let main = tmp.write("main.conf", "SecMarker A\n\nInclude missing/*.conf\n");
    let e = parse_files(&[main]).unwrap_err();
    assert_eq!(e.location.line, 3);
    assert!(e.message.contains("no file matches"), "{e}");
    assert!(e.to_string().contains("main.conf:3:"), "{e}");

    let main = tmp.write("main2.conf", "Include nothere.conf\n");
    assert!(parse_files(&[main]).is_err());

    let main = tmp.write("opt.conf", "IncludeOptional nothere.conf\nSecMarker X\n");
    assert_eq!(parse_files(&[main]).unwrap().len(), 1);

    let missing = tmp.0.join("does-not-exist.conf");
    assert!(parse_files(&[missing]).is_err());
}

#[test]
fn include_cycle_is_error() {
    let tmp = TempDir::new("cycle");
    let a = tmp.write("a.conf", "SecMarker A\nInclude b.conf\n");
    tmp.write("b.conf", "Include a.conf\n");
    let e = parse_files(&[a]).unwrap_err();
    assert!(e.message.contains("cycle"), "{e}");

    // A self-including glob is caught as well.
    let s = tmp.write("sub/self.conf", "Include *.conf\n");
    let e = parse_files(&[s]).unwrap_err();
    assert!(e.message.contains("cycle"), "{e}");
}

#[test]
fn include_depth_limit() {
    let tmp = TempDir::new("depth");
    for i in 0..20 {
        tmp.write(&format!("d{i}.conf"), &format!("Include d{}.conf\n", i + 1));
    }
    tmp.write("d20.conf", "SecMarker DEEP\n");
    let e = parse_files(&[tmp.0.join("d0.conf")]).unwrap_err();
    assert!(e.message.contains("16"), "{e}");
}

#[test]
fn glob_patterns() {
    let tmp = TempDir::new("pattern");
    tmp.write("x1.conf", "SecMarker X1\n");
    tmp.write("x22.conf", "SecMarker X22\n");
    tmp.write("y.conf", "SecMarker Y\n");
    let main = tmp.write(
        "main.txt",
        "Include x?.conf\nInclude *2*.conf\nInclude y.c*f\n",
    );
    let names: Vec<String> = parse_files(&[main])
        .unwrap()
        .iter()
        .map(|d| match d {
            Directive::Marker { name, .. } => name.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(names, vec!["X1", "X22", "Y"]);
}

/// Parses the real OWASP CRS v4.28.0 checked out next to the workspace.
#[test]
fn parses_owasp_crs() {
    let crs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/crs");
    assert!(
        crs.join("rules").is_dir(),
        "OWASP CRS not found: looked for {} (expected crs-setup.conf.example and rules/*.conf there)",
        crs.display()
    );
    let mut files = vec![crs.join("crs-setup.conf.example")];
    let mut rules: Vec<PathBuf> = std::fs::read_dir(crs.join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    rules.sort();
    files.extend(rules);

    let directives = match parse_files(&files) {
        Ok(d) => d,
        Err(e) => panic!("CRS failed to parse: {e}"),
    };

    let markers = directives
        .iter()
        .filter(|d| matches!(d, Directive::Marker { .. }))
        .count();
    assert_eq!(markers, 30);

    let top: Vec<&SecRule> = directives
        .iter()
        .filter_map(|d| match d {
            Directive::Rule(r) => Some(r),
            _ => None,
        })
        .collect();
    let with_id = top.iter().filter(|r| r.id().is_some()).count();
    println!(
        "CRS: {} directives, {} top-level rules, {with_id} with an id",
        directives.len(),
        top.len()
    );
    // Computed once with
    //   grep -hE '^\s*(SecRule|SecAction)(\s|$)' crs-setup.conf.example rules/*.conf | wc -l
    // which gives 703 SecRule/SecAction lines, minus the 73 chain links
    // (lines following a rule with `chain`; counted with a Python script that
    // joins continuations, skips comments and tracks `chain`): 703 - 73 = 630.
    // Every top-level rule in the CRS has an id.
    assert_eq!(with_id, 630);
    assert_eq!(top.len(), 630);

    let chained: usize = top.iter().map(|r| r.chain_len()).sum();
    assert_eq!(chained, 73);

    // Every @rx argument with a backslash in the source keeps it.
    let mut all = Vec::new();
    for r in &top {
        let mut cur = Some(*r);
        while let Some(x) = cur {
            all.push(x);
            cur = x.chained.as_deref();
        }
    }
    let mut rx_with_backslash = 0;
    for r in &all {
        if r.operator.name != "rx" {
            continue;
        }
        let source = std::fs::read_to_string(&r.location.file).unwrap();
        // In the CRS the operator is on the rule's first line or the next
        // one; check against the rule text from its first line on.
        let rest: String = source
            .lines()
            .skip(r.location.line - 1)
            .take(3)
            .collect::<Vec<_>>()
            .join("\n");
        if r.operator.argument.contains('\\') {
            rx_with_backslash += 1;
            // The argument must appear in the source verbatim (no escape
            // resolution except \" which CRS rarely uses).
            if !r.operator.argument.contains('"') {
                assert!(
                    rest.contains(&r.operator.argument),
                    "{}:{}: @rx argument not verbatim: {}",
                    r.location.file.display(),
                    r.location.line,
                    r.operator.argument
                );
            }
        } else {
            assert!(
                !rest.contains("@rx") || !rest_rx(&rest).contains('\\'),
                "{}:{}: @rx lost its backslashes: {}",
                r.location.file.display(),
                r.location.line,
                r.operator.argument
            );
        }
    }
    println!("CRS: {rx_with_backslash} @rx arguments with a backslash");
    assert!(rx_with_backslash > 100);
}

/// The text after the first `@rx ` up to the next unescaped `"` in `s`.
fn rest_rx(s: &str) -> String {
    let Some(start) = s.find("@rx ") else {
        return String::new();
    };
    let mut out = String::new();
    let mut chars = s[start + 4..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '"' => break,
            _ => out.push(c),
        }
    }
    out
}
