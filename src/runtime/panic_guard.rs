//! Answers every in-flight request with a prompt `503` when a panic poisons the wasm instance.
//!
//! The release build aborts on panic (`panic = "abort"`, see
//! docs/interruption.md): the wasm instance traps, the runtime re-creates it
//! on the next call, and every Rust future in it is gone. A caller held open by
//! such a future would hang until its own client gave up. So each response
//! promise handed to the runtime is a JavaScript `Promise.race` between the
//! Rust handler and a fallback promise whose resolver is registered here; the
//! panic hook, which runs before the abort while the instance still works,
//! resolves every registered fallback with the dialect's `503` + `Retry-After`.
//! Settling a race needs no wasm, so the answers go out after the trap.
//!
//! Each fallback response is built when its request arrives, in that request's
//! own context: the runtime refuses to send a response object that was created
//! while serving another request (the panicking one).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

use wasm_bindgen::JsValue;
use worker::js_sys::{self, Array, Function, Promise};
use worker::worker_sys::web_sys;
use worker::{wasm_bindgen_futures, Response, Url};

use crate::runtime::http_io::{answer_response, problem_response};
use crate::runtime::log;
use edgepay_core::dialect::servicestack::operation::is_servicestack_path;
use edgepay_core::dialect::servicestack::response::{error_answer, sanitize_jsonp, Framing};
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::request_log::REQUEST_ID_HEADER;
use edgepay_core::log_line::LogLine;
use edgepay_core::payment::request_record::RETRY_AFTER_SECS;

/// The error shape a caller expects, fixed when its request arrives.
enum Shape {
    Problem { instance: String },
    ServiceStack(Framing),
}

impl Shape {
    fn for_url(url: &str) -> Shape {
        let parsed = Url::parse(url).ok();
        let path = parsed.as_ref().map(|u| u.path()).unwrap_or("/");
        if !is_servicestack_path(path) {
            return Shape::Problem {
                instance: path.to_owned(),
            };
        }
        let callback = parsed.as_ref().and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k.eq_ignore_ascii_case("callback"))
                .and_then(|(_, v)| sanitize_jsonp(&v))
        });
        Shape::ServiceStack(callback.map_or(Framing::Json, Framing::Jsonp))
    }

    fn interrupted(&self, request_id: &str) -> worker::Result<Response> {
        let error = ApiError::Unavailable {
            retry_after_secs: RETRY_AFTER_SECS,
        };
        let mut resp = match self {
            Shape::Problem { instance } => problem_response(&error, instance)?,
            Shape::ServiceStack(framing) => answer_response(error_answer(framing, &error))
                .or_else(|_| Response::error("internal error", 500))?,
        };
        let headers = resp.headers_mut();
        headers.set("x-content-type-options", "nosniff")?;
        headers.set(REQUEST_ID_HEADER, request_id)?;
        Ok(resp)
    }
}

struct Pending {
    resolve: Function,
    interrupted: web_sys::Response,
    registered_ms: f64,
}

/// No request is answered later than this (a hold of 30 s, an object call's grace, the
/// runtime's own limits), so an older fallback belongs to a request the runtime gave up on
/// whose handler never ended: it is dropped when the next request registers.
const ABANDONED_AFTER_MS: f64 = 5.0 * 60.0 * 1000.0;

thread_local! {
    /// The fallbacks of the requests in flight, by a number of their own.
    static PENDING: RefCell<BTreeMap<u64, Pending>> = const { RefCell::new(BTreeMap::new()) };
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
}

static HOOK: Once = Once::new();

/// Runs before the abort of any panic in this instance (Worker or Durable Object code).
fn answer_everyone() {
    let pending = PENDING
        .try_with(|p| p.try_borrow_mut().map(|mut v| std::mem::take(&mut *v)))
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    for entry in pending.into_values() {
        let _ = entry
            .resolve
            .call1(&JsValue::NULL, &JsValue::from(entry.interrupted));
    }
}

fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            answer_everyone();
            // One line an operator (and the tests' panic canary) can find. Only the place, not
            // the message: a message may quote a peer's data.
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            log::emit(&LogLine::error("panic").with("at", at));
            previous(info);
        }));
    });
}

/// Removes a request's fallback when its handler ends, however it ends: answered, failed, or
/// dropped unfinished (a request the runtime gave up on), so no entry outlives its request.
struct Registered(u64);

impl Drop for Registered {
    fn drop(&mut self) {
        let _ = PENDING.try_with(|p| {
            if let Ok(mut pending) = p.try_borrow_mut() {
                pending.remove(&self.0);
            }
        });
    }
}

/// The promise to hand the runtime for a request to `url`: `handler`'s response, or the
/// `503` fallback (carrying the request's `X-Request-Id`) if a panic strikes first.
pub fn guard(
    url: &str,
    request_id: &str,
    handler: impl Future<Output = Result<JsValue, JsValue>> + 'static,
) -> Promise {
    install_hook();
    let id = NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id.wrapping_add(1));
        id
    });
    let mut resolver = None;
    let fallback = Promise::new(&mut |resolve, _reject| resolver = Some(resolve));
    let interrupted = Shape::for_url(url)
        .interrupted(request_id)
        .map(web_sys::Response::from);
    let registered = match (resolver, interrupted) {
        (Some(resolve), Ok(interrupted)) => {
            let now = js_sys::Date::now();
            PENDING.with(|p| {
                let mut pending = p.borrow_mut();
                // Ids grow with time, so the oldest entries are first.
                while let Some(entry) = pending.first_entry() {
                    if now - entry.get().registered_ms < ABANDONED_AFTER_MS {
                        break;
                    }
                    entry.remove();
                }
                pending.insert(
                    id,
                    Pending {
                        resolve,
                        interrupted,
                        registered_ms: now,
                    },
                )
            });
            Some(Registered(id))
        }
        _ => None,
    };
    let main = wasm_bindgen_futures::future_to_promise(AssertUnwindSafe(async move {
        let _registered = registered;
        handler.await
    }));
    Promise::race(&Array::of2(&main, &fallback))
}
