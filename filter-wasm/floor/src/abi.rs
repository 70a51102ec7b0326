//! The proxy-wasm ABI (0.2.1) as Envoy calls it: the exports a module needs and the host calls
//! each [`Mode`] makes, with nothing in between. Unsafe by nature: the host hands the module
//! raw pointers into its own memory, allocated through `proxy_on_memory_allocate`.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::ptr::null_mut;

use crate::{BATCH_SPANS, EXPORT_CLUSTER, Ids, Mode};

const OK: u32 = 0;
const CONTINUE: u32 = 0;
const REQUEST_HEADERS: u32 = 0;
const RESPONSE_HEADERS: u32 = 2;
const PLUGIN_CONFIGURATION: u32 = 7;
/// Unsent spans: a tick sends what the batch holds.
const TICK_MS: u32 = 1000;

#[link(wasm_import_module = "env")]
unsafe extern "C" {
    fn proxy_get_buffer_bytes(
        buffer: u32,
        start: usize,
        max: usize,
        out: *mut *mut u8,
        out_len: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_value(
        map: u32,
        key: *const u8,
        key_len: usize,
        out: *mut *mut u8,
        out_len: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(map: u32, out: *mut *mut u8, out_len: *mut usize) -> u32;
    fn proxy_add_header_map_value(
        map: u32,
        key: *const u8,
        key_len: usize,
        value: *const u8,
        value_len: usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map: u32,
        key: *const u8,
        key_len: usize,
        value: *const u8,
        value_len: usize,
    ) -> u32;
    fn proxy_call_foreign_function(
        name: *const u8,
        name_len: usize,
        args: *const u8,
        args_len: usize,
        out: *mut *mut u8,
        out_len: *mut usize,
    ) -> u32;
    #[allow(clippy::too_many_arguments)]
    fn proxy_http_call(
        upstream: *const u8,
        upstream_len: usize,
        headers: *const u8,
        headers_len: usize,
        body: *const u8,
        body_len: usize,
        trailers: *const u8,
        trailers_len: usize,
        timeout_ms: u32,
        token: *mut u32,
    ) -> u32;
    fn proxy_set_tick_period_milliseconds(period_ms: u32) -> u32;
    fn proxy_log(level: u32, message: *const u8, message_len: usize) -> u32;
}

/// Logs at error level (Envoy's `[wasm]` logger).
fn log_error(message: &str) {
    // SAFETY: a pointer to a live string of the length given.
    unsafe { proxy_log(4, message.as_ptr(), message.len()) };
}

#[cfg(target_os = "wasi")]
unsafe extern "C" {
    fn __wasm_call_ctors();
}

/// A reactor's start: WASI's constructors, as the SDK's `main!` runs them.
#[unsafe(no_mangle)]
pub extern "C" fn _initialize() {
    #[cfg(target_os = "wasi")]
    // SAFETY: called once by the host before any other export.
    unsafe {
        __wasm_call_ctors();
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_abi_version_0_2_1() {}

/// The host's allocations in module memory: its answers to the calls below.
#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    let mut v: Vec<MaybeUninit<u8>> = Vec::with_capacity(size);
    // SAFETY: MaybeUninit needs no initialization; the host writes the bytes.
    unsafe { v.set_len(size) };
    Box::into_raw(v.into_boxed_slice()).cast::<u8>()
}

/// An answer the host allocated with `proxy_on_memory_allocate`, freed when dropped.
struct Answer(*mut u8, usize);

impl Answer {
    fn bytes(&self) -> &[u8] {
        if self.0.is_null() {
            return &[];
        }
        // SAFETY: the host wrote `self.1` bytes at `self.0`, allocated by this module.
        unsafe { std::slice::from_raw_parts(self.0, self.1) }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: allocated as a boxed slice of exactly this length.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.0, self.1)) });
        }
    }
}

/// Runs a host call that answers with bytes; `None` unless it says Ok.
fn answer(call: impl FnOnce(*mut *mut u8, *mut usize) -> u32) -> Option<Answer> {
    let mut ptr = null_mut();
    let mut len = 0;
    let status = call(&mut ptr, &mut len);
    let answer = Answer(ptr, len);
    (status == OK).then_some(answer)
}

/// `f` of the value of `name` in a header map: read alone, or looked up in the whole map (as
/// the filter reads it). `None` if absent.
fn header<T>(map: u32, name: &[u8], whole_map: bool, f: impl FnOnce(&[u8]) -> T) -> Option<T> {
    if whole_map {
        let pairs = answer(|out, len| {
            // SAFETY: out-pointers to locals.
            unsafe { proxy_get_header_map_pairs(map, out, len) }
        })?;
        find(pairs.bytes(), name).map(f)
    } else {
        let value = answer(|out, len| {
            // SAFETY: a pointer to `name` of its length, out-pointers to locals.
            unsafe { proxy_get_header_map_value(map, name.as_ptr(), name.len(), out, len) }
        })?;
        Some(f(value.bytes()))
    }
}

/// Envoy's foreign function `name` called with `args`.
fn foreign(name: &str, args: &[u8]) -> Option<Answer> {
    answer(|out, len| {
        // SAFETY: pointers to `name` and `args` of their lengths, out-pointers to locals.
        unsafe {
            proxy_call_foreign_function(
                name.as_ptr(),
                name.len(),
                args.as_ptr(),
                args.len(),
                out,
                len,
            )
        }
    })
}

#[derive(Default)]
struct Root {
    mode: Option<Mode>,
    expression: Option<[u8; 4]>,
    rng: u64,
    spans: Vec<u8>,
    buffered: usize,
    streams: HashMap<u32, Stream>,
}

#[derive(Clone, Copy)]
struct Stream {
    ids: Ids,
    start_ns: u64,
}

thread_local! {
    static ROOT: RefCell<Root> = RefCell::new(Root::default());
}

impl Root {
    fn next(&mut self) -> u64 {
        // xorshift64: ids need to be distinct, not secret, in a benchmark.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    fn send(&mut self) {
        if self.buffered == 0 {
            return;
        }
        let body = crate::export_request(&self.spans);
        self.spans.clear();
        self.buffered = 0;
        let headers = headers(&[
            (b":method", b"POST"),
            (b":path", b"/v1/traces"),
            (b":authority", b"collector"),
            (b"content-type", b"application/x-protobuf"),
        ]);
        let mut token = 0;
        // SAFETY: every pointer is to a live local buffer of the length given.
        unsafe {
            proxy_http_call(
                EXPORT_CLUSTER.as_ptr(),
                EXPORT_CLUSTER.len(),
                headers.as_ptr(),
                headers.len(),
                body.as_ptr(),
                body.len(),
                null_mut(),
                0,
                5000,
                &mut token,
            );
        }
    }
}

/// A header map in the ABI's serialization: the count, each name's and value's length, then
/// each name and value followed by a NUL.
fn headers(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k);
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    out
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_vm_start(_root: u32, _size: usize) -> u32 {
    1
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_configure(_root: u32, size: usize) -> u32 {
    let config = answer(|out, len| {
        // SAFETY: out-pointers to locals.
        unsafe { proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, 0, size, out, len) }
    });
    let text = config.as_ref().map(Answer::bytes).unwrap_or_default();
    let Some(mode) = Mode::parse(text) else {
        log_error(&format!(
            "meshtrace-wasm-floor: unknown mode {:?}: one of empty, propagation, bare, span, \
             then +request-map, +cel (+cel1 … +cel6), +response-map where they apply",
            String::from_utf8_lossy(text)
        ));
        return 0;
    };
    let expression = if mode.cel > 0 {
        let expression = crate::expression(usize::from(mode.cel));
        let token = foreign("expr_create", expression.as_bytes());
        match token.and_then(|t| <[u8; 4]>::try_from(t.bytes()).ok()) {
            Some(token) => Some(token),
            None => {
                log_error("meshtrace-wasm-floor: expr_create gave no token: no CEL in this Envoy");
                return 0;
            }
        }
    } else {
        None
    };
    if mode.records {
        // SAFETY: no pointers.
        unsafe { proxy_set_tick_period_milliseconds(TICK_MS) };
    }
    ROOT.with_borrow_mut(|root| {
        root.mode = Some(mode);
        root.expression = expression;
        root.rng = now_ns() | 1;
    });
    1
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_context_create(_context: u32, _parent: u32) {}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_request_headers(context: u32, _headers: usize, _eos: u32) -> u32 {
    ROOT.with_borrow_mut(|root| {
        let Some(mode) = root.mode else {
            return;
        };
        if !mode.propagation {
            return;
        }
        let incoming = header(
            REQUEST_HEADERS,
            b"traceparent",
            mode.request_map,
            <[u8]>::to_vec,
        );
        let span = root.next().to_le_bytes();
        let trace = ((u128::from(root.next()) << 64) | u128::from(root.next())).to_le_bytes();
        let ids = crate::child_of(incoming.as_deref(), span, trace);
        let value = crate::traceparent(&ids);
        let key = b"traceparent";
        // SAFETY: pointers to a constant and a local of the lengths given.
        unsafe {
            if incoming.is_some() {
                proxy_replace_header_map_value(
                    REQUEST_HEADERS,
                    key.as_ptr(),
                    key.len(),
                    value.as_ptr(),
                    value.len(),
                );
            } else {
                proxy_add_header_map_value(
                    REQUEST_HEADERS,
                    key.as_ptr(),
                    key.len(),
                    value.as_ptr(),
                    value.len(),
                );
            }
        }
        if mode.records {
            root.streams.insert(
                context,
                Stream {
                    ids,
                    start_ns: now_ns(),
                },
            );
        }
    });
    CONTINUE
}

/// The value of `name` in a serialized header map.
fn find<'a>(map: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let count = u32::from_le_bytes(map.get(..4)?.try_into().ok()?) as usize;
    let mut at = 4 + count * 8;
    for i in 0..count {
        let lens = map.get(4 + i * 8..12 + i * 8)?;
        let k = u32::from_le_bytes(lens.get(..4)?.try_into().ok()?) as usize;
        let v = u32::from_le_bytes(lens.get(4..)?.try_into().ok()?) as usize;
        let key = map.get(at..at + k)?;
        let value = map.get(at + k + 1..at + k + 1 + v)?;
        if key == name {
            return Some(value);
        }
        at += k + v + 2;
    }
    None
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_log(context: u32) {
    ROOT.with_borrow_mut(|root| {
        let Some(stream) = root.streams.remove(&context) else {
            return;
        };
        let end_ns = now_ns();
        let properties = root
            .expression
            .and_then(|token| foreign("expr_evaluate", &token));
        let whole_map = root.mode.is_some_and(|m| m.response_map);
        let status = header(RESPONSE_HEADERS, b":status", whole_map, decimal);
        crate::encode_span(
            &mut root.spans,
            &stream.ids,
            stream.start_ns,
            end_ns,
            status.unwrap_or(0),
            properties.as_ref().map(Answer::bytes),
        );
        root.buffered += 1;
        if root.buffered >= BATCH_SPANS {
            root.send();
        }
    });
}

fn decimal(text: &[u8]) -> i64 {
    text.iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |n, c| {
            n.saturating_mul(10).saturating_add(i64::from(c - b'0'))
        })
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_tick(_root: u32) {
    ROOT.with_borrow_mut(Root::send);
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_http_call_response(
    _root: u32,
    _token: u32,
    _headers: usize,
    _body: usize,
    _trailers: usize,
) {
}
