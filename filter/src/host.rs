//! proxy-wasm glue: Envoy callbacks in, engine calls, responses, logs and
//! metrics out. Host calls go through `hostcalls` directly and their errors
//! are handled here, never unwrapped: a failed host call must not trap the VM.
//!
//! Body handling follows Envoy's rules: returning `Pause` from the headers
//! callback would stop body callbacks, so headers-phase rules run first, the
//! headers continue, and the body callback pauses (Envoy buffers) until the
//! end of the stream or the configured limit.
//!
//! Responses work the same way when an enabled rule runs in a response
//! phase: response-headers rules run on the headers callback (a block there
//! is still a full local reply, nothing was sent yet); for an inspected body
//! `content-length` is dropped, the headers continue and the body callback
//! pauses until the end or `response_body.limit_bytes`. A block in the
//! response body phase can no longer change the status line: the body is
//! replaced by the JSON block notice. One verdict line per transaction is
//! logged once all phases ran (at once for a request blocked by Palisade).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use palisade_engine::eval::{Mode, PolicyId};
use palisade_engine::request::{Header, Request, ResponseData};
use palisade_engine::rule::{Phase, RuleId};
use palisade_engine::{Decision, Transaction, Verdict};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType};

use crate::config::{self, LogLevel as LogSetting, OverLimit, Settings};
use crate::response::{self, LogContext};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    std::panic::set_hook(Box::new(|info| {
        log(LogLevel::Critical, &format!("palisade: panic: {info}"));
    }));
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

fn log(level: LogLevel, message: &str) {
    // Nothing sensible to do if logging itself fails.
    let _ = hostcalls::log(level, message);
}

/// Counter ids, defined once per VM.
#[derive(Default)]
struct Metrics {
    inspected: Option<u32>,
    blocked: Option<u32>,
    detected: Option<u32>,
    body_limit_hits: Option<u32>,
    response_blocked: Option<u32>,
    /// Gauge: this VM's linear memory in bytes (what the engine's heap
    /// has grown to; wasm memory never shrinks, so it is the VM's peak).
    vm_memory: Option<u32>,
    /// Histogram: microseconds Palisade's callbacks took per request, for
    /// one request in `FILTER_TIME_SAMPLING` (`bench/run.sh` reads it to
    /// tell Palisade's time from Envoy's).
    filter_time: Option<u32>,
    /// The last value recorded in `vm_memory`.
    vm_memory_seen: Cell<usize>,
    /// Per-rule hit counters, defined on a rule's first hit.
    rules: RefCell<HashMap<RuleId, Option<u32>>>,
}

impl Metrics {
    fn define() -> Self {
        let define = |kind: MetricType, name: &str| match hostcalls::define_metric(kind, name) {
            Ok(id) => Some(id),
            Err(e) => {
                log(
                    LogLevel::Warn,
                    &format!("palisade: cannot define metric {name}: {e:?}"),
                );
                None
            }
        };
        let counter = |name: &str| define(MetricType::Counter, name);
        Metrics {
            inspected: counter("palisade.requests_inspected"),
            blocked: counter("palisade.requests_blocked"),
            detected: counter("palisade.requests_detected"),
            body_limit_hits: counter("palisade.body_limit_hits"),
            response_blocked: counter("palisade.responses_blocked"),
            vm_memory: define(MetricType::Gauge, "palisade.vm_memory_bytes"),
            filter_time: define(MetricType::Histogram, "palisade.filter_time_us"),
            vm_memory_seen: Cell::new(0),
            rules: RefCell::new(HashMap::new()),
        }
    }

    /// Records the VM's memory when it has grown: a soak run reads it from
    /// Envoy's stats to tell the engine's heap from Envoy's own memory.
    /// Reading the size is an instruction, not a host call; the gauge is
    /// only set when it changes.
    fn note_vm_memory(&self) {
        let Some(id) = self.vm_memory else {
            return;
        };
        let bytes = vm_memory_bytes();
        if bytes != self.vm_memory_seen.get() {
            self.vm_memory_seen.set(bytes);
            let _ = hostcalls::record_metric(id, bytes as u64);
        }
    }

    /// One request's time in Palisade, rounded to the microsecond.
    fn record_filter_time(&self, busy: Duration) {
        if let Some(id) = self.filter_time {
            let micros = (busy.as_nanos() + 500) / 1000;
            let _ = hostcalls::record_metric(id, u64::try_from(micros).unwrap_or(u64::MAX));
        }
    }

    fn bump(id: Option<u32>) {
        if let Some(id) = id {
            let _ = hostcalls::increment_metric(id, 1);
        }
    }

    fn rule_hit(&self, rule: RuleId) {
        let mut rules = self.rules.borrow_mut();
        let id = *rules.entry(rule).or_insert_with(|| {
            hostcalls::define_metric(MetricType::Counter, &format!("palisade.rule.{rule}.hits"))
                .ok()
        });
        Metrics::bump(id);
    }
}

/// Size of this module's linear memory (0 where there is none: native
/// builds for tests and clippy).
fn vm_memory_bytes() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) * 65536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

struct Shared {
    settings: Settings,
    metrics: Metrics,
    /// Some enabled rule runs in a response phase.
    inspects_response: bool,
    /// Some enabled rule runs in the response body phase.
    inspects_response_body: bool,
    /// Some enabled rule runs in the logging phase.
    logs_phase: bool,
    /// Some scoped policy names Envoy routes: read `xds.route_name`.
    reads_route: bool,
    /// Transactions of finished streams, reset, for the next ones: each
    /// keeps the storage its request's transformed values needed, which a
    /// new transaction allocated again (built-in GET: −12% of the engine's
    /// time in V8, −7% to −19% of Envoy's CPU per request; bench/README.md).
    transactions: RefCell<Vec<Transaction>>,
    /// Streams created by this VM, for `FILTER_TIME_SAMPLING`.
    streams: Cell<u64>,
}

/// One stream in this many is timed for `palisade.filter_time_us`, the
/// first included. Each callback of a timed stream costs two clock reads,
/// host calls: timing every stream cost 3–4 µs of Envoy's 74 µs per
/// built-in GET in each of three `bench/ab.sh` rounds; a 1-in-8 sample,
/// 0.3–1.7 µs, within the runs' spread. The mean and percentiles of
/// thousands of requests are as good sampled.
const FILTER_TIME_SAMPLING: u64 = 8;

impl Shared {
    /// Is the next stream one to time?
    fn sample_filter_time(&self) -> bool {
        let n = self.streams.get();
        self.streams.set(n.wrapping_add(1));
        n.is_multiple_of(FILTER_TIME_SAMPLING)
    }
}

/// Pooled transactions per VM: as many as streams usually overlap on one
/// worker. Each holds at most 96 KB of cache slots, 64 KB of transformed
/// values and prefilter marks, and 32 KB of TX variables
/// (`Transaction::reset`), so about 3.1 MB in all at most; streams beyond
/// this many allocate their own, which are then dropped.
const POOLED_TRANSACTIONS: usize = 16;

#[derive(Default)]
struct Root {
    shared: Option<Rc<Shared>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, size: usize) -> bool {
        let json = match hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size) {
            Ok(bytes) => bytes.unwrap_or_default(),
            Err(e) => {
                log(
                    LogLevel::Critical,
                    &format!("palisade: invalid plugin configuration: cannot read it: {e:?}"),
                );
                return false;
            }
        };
        let started = hostcalls::get_current_time().ok();
        match config::load(&json, crate::BUILTIN_RULESET) {
            Ok(settings) => {
                let elapsed = started
                    .and_then(|t| hostcalls::get_current_time().ok()?.duration_since(t).ok())
                    .map(|d| d.as_secs_f64() * 1000.0)
                    .unwrap_or(0.0);
                let prefilter = settings.engine.prefilter_stats();
                log(
                    LogLevel::Info,
                    &format!(
                        "palisade: loaded {} rules in {elapsed:.1} ms (paranoia {}, threshold {}, mode {:?}, {} scoped policies; prefilter: {} regexes, {} phrase lists, {} regex sets, {} literal chains, {} as received, {} multiMatch, {} KiB)",
                        settings.engine.rules().len(),
                        settings.policy.paranoia,
                        settings.policy.inbound_threshold,
                        settings.policy.mode,
                        settings.policies.len(),
                        prefilter.regexes,
                        prefilter.phrase_lists,
                        prefilter.sets,
                        prefilter.literal_chains,
                        prefilter.as_received_chains,
                        prefilter.multi_match,
                        prefilter.bytes / 1024
                    ),
                );
                // Per stream the selected policy decides; these only say
                // whether any policy could need the response at all.
                let any =
                    |f: &dyn Fn(&palisade_engine::Policy) -> bool| settings.all_policies().any(f);
                let engine = &settings.engine;
                let inspects_response = any(&|p| engine.inspects_response(p));
                let inspects_response_body = any(&|p| engine.inspects_response_body(p));
                let logs_phase = any(&|p| engine.runs_phase(p, Phase::Logging));
                let reads_route = settings.reads_route();
                self.shared = Some(Rc::new(Shared {
                    reads_route,
                    inspects_response,
                    inspects_response_body,
                    logs_phase,
                    settings,
                    metrics: Metrics::define(),
                    transactions: RefCell::new(Vec::new()),
                    streams: Cell::new(0),
                }));
                true
            }
            Err(e) => {
                // Returning false makes Envoy apply the plugin's failure policy.
                log(
                    LogLevel::Critical,
                    &format!("palisade: invalid plugin configuration: {e}"),
                );
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let shared = self.shared.clone()?;
        let tx = shared.transactions.borrow_mut().pop().unwrap_or_default();
        let busy = shared.sample_filter_time().then_some(Duration::ZERO);
        Some(Box::new(Stream {
            shared,
            request: None,
            tx,
            policy: PolicyId::TOP,
            request_id: String::new(),
            done: false,
            response: ResponseState::Skip,
            pending_log: false,
            busy,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One HTTP request.
struct Stream {
    shared: Rc<Shared>,
    request: Option<Request>,
    tx: Transaction,
    /// The policy for this request, chosen once from its authority, route
    /// and path when the headers arrive.
    policy: PolicyId,
    request_id: String,
    /// A decision was taken; later callbacks pass through.
    done: bool,
    /// Where response inspection stands.
    response: ResponseState,
    /// The verdict line is still to be written (response phases pending).
    pending_log: bool,
    /// Time spent in this stream's callbacks so far, when this stream is
    /// one of those timed (`FILTER_TIME_SAMPLING`).
    busy: Option<Duration>,
}

/// Response inspection for one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ResponseState {
    /// Nothing (more) to do: no response rules, request blocked, or done.
    Skip,
    /// The request passed; the response headers are awaited.
    Awaiting,
    /// The body is being buffered for the body phase.
    Buffering,
    /// The body phase blocked on a partial body: what follows is dropped.
    Dropping,
}

impl Context for Stream {}

impl Drop for Stream {
    /// Hands the transaction back to the pool, reset: nothing of this
    /// request stays in it.
    fn drop(&mut self) {
        let mut tx = std::mem::take(&mut self.tx);
        tx.reset();
        let mut pool = self.shared.transactions.borrow_mut();
        if pool.len() < POOLED_TRANSACTIONS {
            pool.push(tx);
        }
    }
}

impl Stream {
    /// Runs one callback, adding its wall-clock time to `busy` on a timed
    /// stream: on one worker thread, with nothing awaited inside, that is
    /// CPU time. A failed clock read leaves the callback untimed.
    fn timed<R>(&mut self, callback: impl FnOnce(&mut Self) -> R) -> R {
        if self.busy.is_none() {
            return callback(self);
        }
        let started = hostcalls::get_current_time().ok();
        let result = callback(self);
        let elapsed =
            started.and_then(|t| hostcalls::get_current_time().ok()?.duration_since(t).ok());
        if let (Some(busy), Some(elapsed)) = (self.busy.as_mut(), elapsed) {
            *busy += elapsed;
        }
        result
    }

    fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// Is this request's policy `mode: off`? Then no rule runs, and nothing
    /// is buffered for rules that will not look at it.
    fn policy_off(&self) -> bool {
        self.settings().policy_by_id(self.policy).mode == Mode::Off
    }

    /// Picks the request's policy: the first `policies` entry covering its
    /// authority, Envoy route and path, else the top level.
    fn select_policy(&mut self, req: &Request) {
        // The route name is asked for only when some policy names routes:
        // one host call per request otherwise saved.
        let route = if self.shared.reads_route {
            property(&["xds", "route_name"])
        } else {
            None
        };
        self.policy = self.settings().select_policy(req, route.as_deref());
    }

    /// Builds the request model from the headers map.
    fn read_request(&mut self) -> Request {
        let map = hostcalls::get_map_bytes(MapType::HttpRequestHeaders).unwrap_or_default();
        let mut method = Vec::new();
        let mut path = Vec::new();
        let mut headers = Vec::with_capacity(map.len());
        for (name, value) in map {
            match name.as_str() {
                ":method" => method = value,
                ":path" => path = value,
                // HTTP/1 `Host` arrives as `:authority`; rules know it as `host`.
                ":authority" => headers.push(Header::new(&b"host"[..], value)),
                n if n.starts_with(':') => {}
                _ => {
                    if name == "x-request-id" {
                        self.request_id = String::from_utf8_lossy(&value).into_owned();
                    }
                    headers.push(Header::new(name.into_bytes(), value));
                }
            }
        }
        let protocol = property(&["request", "protocol"]).unwrap_or_else(|| b"HTTP/1.1".to_vec());
        // CONNECT carries no :path; its request target is the authority
        // (`CONNECT host:port HTTP/1.1`), which is what rules must see.
        if path.is_empty() && method.eq_ignore_ascii_case(b"CONNECT") {
            if let Some(h) = headers.iter().find(|h| h.name_lc() == b"host") {
                path = h.value.clone();
            }
        }
        let mut req = Request::new(method, path, protocol, headers);
        req.unique_id = self.request_id.as_bytes().to_vec();
        if let Some(addr) = property(&["source", "address"]) {
            req.remote_addr = strip_port(&addr).to_vec();
        }
        req
    }

    /// Runs one phase; on a final decision, acts on it. Returns the action.
    fn run(&mut self, phase: Phase) -> Action {
        let Some(req) = self.request.take() else {
            return Action::Continue;
        };
        let shared = Rc::clone(&self.shared);
        let s = &shared.settings;
        let decided = s
            .engine
            .evaluate(phase, &req, s.policy_by_id(self.policy), &mut self.tx);
        let last = decided || phase == Phase::Body;
        let action = if last {
            self.finish(&req)
        } else {
            Action::Continue
        };
        self.request = Some(req);
        action
    }

    /// Acts on the request verdict: respond on a block; log and count now,
    /// or once the response phases ran.
    fn finish(&mut self, req: &Request) -> Action {
        self.done = true;
        let shared = Rc::clone(&self.shared);
        let s = &shared.settings;
        let verdict = s.engine.verdict(s.policy_by_id(self.policy), &self.tx);
        if verdict.decision != Decision::Block && shared.inspects_response && !self.policy_off() {
            // The verdict line waits for the response phases.
            self.response = ResponseState::Awaiting;
            self.pending_log = true;
            return Action::Continue;
        }
        self.report(req, &verdict);
        match verdict.decision {
            Decision::Block => {
                Metrics::bump(shared.metrics.blocked);
                let body = response::block_body(&self.request_id, &verdict);
                self.respond(s.block_status, &body);
                Action::Pause
            }
            Decision::Detect | Decision::Pass | Decision::Allow => Action::Continue,
        }
    }

    /// The one verdict line of the transaction, rule hit and detection
    /// counters.
    fn report(&mut self, req: &Request, verdict: &Verdict) {
        self.pending_log = false;
        let shared = Rc::clone(&self.shared);
        let s = &shared.settings;
        // Logging-phase rules (SecLang phase 5; CRS's score report 980170)
        // run last and only add to what is logged.
        let with_logging;
        let verdict = if shared.logs_phase {
            s.engine.evaluate(
                Phase::Logging,
                req,
                s.policy_by_id(self.policy),
                &mut self.tx,
            );
            with_logging = s.engine.verdict(s.policy_by_id(self.policy), &self.tx);
            &with_logging
        } else {
            verdict
        };
        for m in &verdict.matches {
            shared.metrics.rule_hit(m.rule_id);
        }
        if verdict.decision == Decision::Detect {
            Metrics::bump(shared.metrics.detected);
        }
        let event = match verdict.decision {
            Decision::Block => Some("blocked"),
            Decision::Detect => Some("detected"),
            Decision::Pass | Decision::Allow
                if !verdict.matches.is_empty() && s.log >= LogSetting::Matched =>
            {
                Some("matched")
            }
            Decision::Pass | Decision::Allow if s.log >= LogSetting::All => Some("passed"),
            _ => None,
        };
        if let Some(event) = event.filter(|_| s.log != LogSetting::Off) {
            self.log_verdict(event, req, verdict);
        }
    }

    /// Builds the response model from the response headers map.
    fn read_response(&self) -> ResponseData {
        let map = hostcalls::get_map_bytes(MapType::HttpResponseHeaders).unwrap_or_default();
        let mut status = Vec::new();
        let mut headers = Vec::with_capacity(map.len());
        for (name, value) in map {
            match name.as_str() {
                ":status" => status = value,
                n if n.starts_with(':') => {}
                _ => headers.push(Header::new(name.into_bytes(), value)),
            }
        }
        let protocol = self
            .request
            .as_ref()
            .map_or_else(|| b"HTTP/1.1".to_vec(), |r| r.protocol.clone());
        ResponseData {
            status,
            protocol,
            headers,
            body: Vec::new(),
        }
    }

    /// Runs one response phase. `body_sent` says whether the response
    /// headers already left (a block then replaces the body instead of
    /// answering). Returns Some(action) when the response was blocked.
    fn run_response(&mut self, phase: Phase, body_sent: Option<usize>) -> Option<Action> {
        let req = self.request.take()?;
        let shared = Rc::clone(&self.shared);
        let s = &shared.settings;
        let decided = s
            .engine
            .evaluate(phase, &req, s.policy_by_id(self.policy), &mut self.tx);
        let verdict = s.engine.verdict(s.policy_by_id(self.policy), &self.tx);
        // In detect mode a score over the threshold decides nothing: the
        // body phase still runs, so its matches are logged too.
        let last = phase == Phase::ResponseBody
            || (decided && matches!(verdict.decision, Decision::Block | Decision::Allow));
        let mut blocked = None;
        if last {
            self.response = ResponseState::Skip;
            self.report(&req, &verdict);
            if verdict.decision == Decision::Block {
                Metrics::bump(shared.metrics.blocked);
                Metrics::bump(shared.metrics.response_blocked);
                let body = response::block_body(&self.request_id, &verdict);
                blocked = Some(match body_sent {
                    None => {
                        self.respond(s.block_status, &body);
                        Action::Pause
                    }
                    Some(size) => {
                        if let Err(e) = hostcalls::set_buffer(
                            BufferType::HttpResponseBody,
                            0,
                            size,
                            body.as_bytes(),
                        ) {
                            log(
                                LogLevel::Error,
                                &format!("palisade: cannot replace the response body: {e:?}"),
                            );
                        }
                        Action::Continue
                    }
                });
            }
        }
        self.request = Some(req);
        blocked
    }

    /// Runs the response body phase over the first `size` buffered bytes.
    fn inspect_response_body(&mut self, size: usize, total: usize, truncated: bool) -> Action {
        let body = hostcalls::get_buffer(BufferType::HttpResponseBody, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default();
        if let Some(resp) = self.request.as_mut().and_then(|r| r.response.as_mut()) {
            resp.body = body;
        }
        match self.run_response(Phase::ResponseBody, Some(total)) {
            Some(action) => {
                if truncated {
                    self.response = ResponseState::Dropping;
                }
                action
            }
            None => Action::Continue,
        }
    }

    fn log_verdict(&self, event: &str, req: &Request, verdict: &Verdict) {
        let authority = req.header_values(b"host").next().unwrap_or_default();
        let ctx = LogContext {
            request_id: &self.request_id,
            method: &req.method,
            path: &req.uri_raw,
            authority,
            policy: &self.settings().policy_by_id(self.policy).name,
        };
        let level = if event == "matched" || event == "passed" {
            LogLevel::Info
        } else {
            LogLevel::Warn
        };
        log(
            level,
            &format!(
                "palisade-verdict {}",
                response::verdict_line(event, &ctx, verdict)
            ),
        );
    }

    fn respond(&self, status: u32, body: &str) {
        let headers = vec![
            ("content-type", "application/json"),
            ("x-request-id", self.request_id.as_str()),
        ];
        if let Err(e) = hostcalls::send_http_response(status, headers, Some(body.as_bytes())) {
            log(
                LogLevel::Error,
                &format!("palisade: cannot send the {status} response: {e:?}"),
            );
        }
    }

    /// Inspects the buffered body (`truncated` when cut at the limit).
    fn inspect_body(&mut self, size: usize, truncated: bool) -> Action {
        let body = hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default();
        let limits = self.settings().body.limits.clone();
        // A headers-phase rule may have chosen the parser
        // (`ctl:requestBodyProcessor=XML`), whatever the Content-Type says.
        let forced = self
            .request
            .as_ref()
            .and_then(|r| self.tx.body_processor(r));
        if let Some(req) = self.request.as_mut() {
            req.attach_body_as(body, truncated, &limits, forced);
        }
        self.run(Phase::Body)
    }
}

/// Each callback of a sampled stream is timed: the sum, recorded when the
/// stream ends, goes to the histogram `palisade.filter_time_us` (Palisade's
/// own time per request, the host calls it makes included).
impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.timed(|s| s.request_headers(end_of_stream))
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        self.timed(|s| s.request_body(size, end_of_stream))
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        self.timed(Stream::request_trailers)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.timed(|s| s.response_headers(end_of_stream))
    }

    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        self.timed(|s| s.response_body(size, end_of_stream))
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        self.timed(Stream::response_trailers)
    }

    fn on_log(&mut self) {
        self.timed(Stream::log_stream);
        if let Some(busy) = self.busy {
            self.shared.metrics.record_filter_time(busy);
        }
    }
}

/// The callbacks' work.
impl Stream {
    fn request_headers(&mut self, end_of_stream: bool) -> Action {
        #[cfg(feature = "fault-injection")]
        fault::inject();
        Metrics::bump(self.shared.metrics.inspected);
        let req = self.read_request();
        self.select_policy(&req);
        self.request = Some(req);
        let action = self.run(Phase::Headers);
        if self.done {
            return action;
        }
        if end_of_stream || !self.settings().body.inspect || self.policy_off() {
            // No body to wait for (or body inspection is off, or the
            // policy is `off`: nothing is buffered, no body limit applies):
            // body-phase rules still run now, on everything but the body.
            return self.run(Phase::Body);
        }
        Action::Continue
    }

    fn request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if self.done {
            return Action::Continue;
        }
        let limit = self.settings().body.limit_bytes;
        if size > limit {
            Metrics::bump(self.shared.metrics.body_limit_hits);
            return match self.settings().body.over_limit {
                OverLimit::Block => {
                    self.done = true;
                    Metrics::bump(self.shared.metrics.blocked);
                    log(
                        LogLevel::Warn,
                        &format!(
                            "palisade-verdict {}",
                            serde_json::json!({"event": "blocked", "request_id": self.request_id, "reason": "request body exceeds limit", "limit_bytes": limit, "body_bytes": size})
                        ),
                    );
                    let body = response::over_limit_body(&self.request_id, limit);
                    self.respond(413, &body);
                    Action::Pause
                }
                OverLimit::InspectPartial => self.inspect_body(limit, true),
            };
        }
        if !end_of_stream {
            // Let Envoy buffer until the whole body (or the limit) is here.
            return Action::Pause;
        }
        self.inspect_body(size, false)
    }

    fn response_headers(&mut self, end_of_stream: bool) -> Action {
        if self.response != ResponseState::Awaiting {
            return Action::Continue;
        }
        let resp = self.read_response();
        let content_type = resp
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(b"content-type"))
            .map(|h| h.value.clone());
        if let Some(req) = self.request.as_mut() {
            req.response = Some(resp);
        }
        if let Some(action) = self.run_response(Phase::ResponseHeaders, None) {
            return action;
        }
        if self.response == ResponseState::Skip {
            return Action::Continue;
        }
        let shared = Rc::clone(&self.shared);
        let rb = &shared.settings.response_body;
        let inspect_body = rb.inspect
            && shared.inspects_response_body
            && !end_of_stream
            && content_type.is_some_and(|ct| rb.inspects_type(&ct));
        if !inspect_body {
            // Body-phase rules still run, on everything but the body.
            return self
                .run_response(Phase::ResponseBody, None)
                .unwrap_or(Action::Continue);
        }
        // The body may be replaced by the block notice: its length is not
        // known yet.
        let _ = hostcalls::remove_map_value(MapType::HttpResponseHeaders, "content-length");
        self.response = ResponseState::Buffering;
        Action::Continue
    }

    fn response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        match self.response {
            ResponseState::Buffering => {}
            ResponseState::Dropping => {
                // Blocked on the first bytes: the rest never reaches the client.
                let _ = hostcalls::set_buffer(BufferType::HttpResponseBody, 0, size, &[]);
                return Action::Continue;
            }
            ResponseState::Skip | ResponseState::Awaiting => return Action::Continue,
        }
        let limit = self.settings().response_body.limit_bytes;
        if size >= limit && !(end_of_stream && size == limit) {
            return self.inspect_response_body(limit, size, true);
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.inspect_response_body(size, size, false)
    }

    fn response_trailers(&mut self) -> Action {
        if self.response != ResponseState::Buffering {
            return Action::Continue;
        }
        let size = match hostcalls::get_buffer(BufferType::HttpResponseBody, 0, usize::MAX) {
            Ok(Some(b)) => b.len(),
            _ => 0,
        };
        let limit = self.settings().response_body.limit_bytes;
        self.inspect_response_body(size.min(limit), size, size > limit)
    }

    fn log_stream(&mut self) {
        self.shared.metrics.note_vm_memory();
        // The response phases never ran (upstream reset, no response), or
        // the request itself never finished (the client left mid-body):
        // log what the phases that ran found, so no detection goes unlogged.
        if self.pending_log || !self.done {
            if let Some(req) = self.request.take() {
                let s = &self.shared.settings;
                let verdict = s.engine.verdict(s.policy_by_id(self.policy), &self.tx);
                self.report(&req, &verdict);
                self.request = Some(req);
            }
        }
    }

    fn request_trailers(&mut self) -> Action {
        if self.done {
            return Action::Continue;
        }
        // Trailers end the stream: the body callback never saw end_of_stream.
        let size = match hostcalls::get_buffer(BufferType::HttpRequestBody, 0, usize::MAX) {
            Ok(Some(b)) => b.len(),
            _ => 0,
        };
        self.inspect_body(size, false)
    }
}

/// Test-only fault injection (cargo feature `fault-injection`, off in the
/// normal build): `x-palisade-fault: panic` panics inside the VM during a
/// request. The release profile aborts on panic, so the panic hook logs the
/// message and the VM traps, as a real bug would; the end-to-end tests watch
/// what Envoy's `failure_policy` does next.
#[cfg(feature = "fault-injection")]
mod fault {
    use proxy_wasm::hostcalls;
    use proxy_wasm::types::MapType;

    #[allow(clippy::panic)]
    pub(super) fn inject() {
        let fault = hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, "x-palisade-fault");
        if let Ok(Some(value)) = fault {
            if value == b"panic" {
                panic!("fault injection: x-palisade-fault: panic");
            }
        }
    }
}

fn property(path: &[&str]) -> Option<Vec<u8>> {
    hostcalls::get_property(path.to_vec()).ok().flatten()
}

/// `1.2.3.4:5678` → `1.2.3.4`, `[::1]:80` → `::1`.
fn strip_port(addr: &[u8]) -> &[u8] {
    if let Some(rest) = addr.strip_prefix(b"[") {
        return rest
            .iter()
            .position(|&b| b == b']')
            .map_or(rest, |end| &rest[..end]);
    }
    match addr.iter().rposition(|&b| b == b':') {
        Some(i) if addr.iter().filter(|&&b| b == b':').count() == 1 => &addr[..i],
        _ => addr,
    }
}
