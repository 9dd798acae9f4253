//! The null filter: every callback continues at once. Envoy still creates a
//! stream context per request and crosses into the VM for the request's
//! headers and body, so Envoy + this filter minus Envoy alone is what the
//! proxy-wasm host costs before Palisade inspects anything.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(NullRoot) });
}}

struct NullRoot;

impl Context for NullRoot {}

impl RootContext for NullRoot {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(NullStream))
    }
}

struct NullStream;

impl Context for NullStream {}

impl HttpContext for NullStream {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        Action::Continue
    }

    fn on_http_request_body(&mut self, _: usize, _: bool) -> Action {
        Action::Continue
    }
}
