//! A whole request through the built-in ruleset, both request phases and the
//! verdict, as the filter drives the engine.
//!
//! Input: four knob bytes (`Knobs`), then an HTTP/1-shaped text, read
//! leniently so every byte reaches the engine: the first line is
//! `METHOD TARGET PROTOCOL` (split at the first two spaces), each following
//! line up to an empty one is `Name: value` (split at the first `:`), and
//! the rest is the body.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use palisade_engine::body::Processor;
use palisade_engine::request::{Header, Request};
use palisade_engine::{Phase, Transaction};
use palisade_fuzz::{builtin_settings, first_line};

#[derive(Arbitrary)]
struct Knobs {
    truncated: bool,
    /// 0..=3 forces a body processor (`ctl:requestBodyProcessor`); else none.
    forced: u8,
    /// Whether a body is attached at all (bodiless requests skip it).
    with_body: bool,
    /// Give the request a client address (REMOTE_ADDR rules).
    remote_addr: bool,
}

fn split2(line: &[u8], at: u8) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == at) {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(k) = Knobs::arbitrary(&mut u) else {
        return;
    };
    let (request_line, mut rest) = first_line(u.take_rest());
    let request_line = request_line.strip_suffix(b"\r").unwrap_or(request_line);
    let (method, after) = split2(request_line, b' ');
    let (target, protocol) = split2(after, b' ');
    let mut headers = Vec::new();
    loop {
        let (line, after) = first_line(rest);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            rest = after;
            break;
        }
        let (name, value) = split2(line, b':');
        headers.push(Header::new(name, value.trim_ascii_start()));
        rest = after;
        if rest.is_empty() {
            break;
        }
    }
    let settings = builtin_settings();
    let (engine, policy) = (&settings.engine, &settings.policy);
    let mut req = Request::new(method, target, protocol, headers);
    if k.remote_addr {
        req.remote_addr = b"192.0.2.7".to_vec();
    }
    let mut tx = Transaction::new();
    if !engine.evaluate(Phase::Headers, &req, policy, &mut tx) {
        if k.with_body {
            let forced = [
                Processor::UrlEncoded,
                Processor::Json,
                Processor::Multipart,
                Processor::Xml,
            ]
            .get(usize::from(k.forced))
            .copied();
            req.attach_body_as(rest.to_vec(), k.truncated, &settings.body.limits, forced);
        }
        engine.evaluate(Phase::Body, &req, policy, &mut tx);
    }
    let _ = engine.verdict(policy, &tx);
});
