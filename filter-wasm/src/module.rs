//! Removing exports from the built Wasm module. The proxy-wasm SDK exports every callback of
//! the ABI, and Envoy calls into the VM for each one a module exports: the response headers
//! and every body chunk of every request, even when the filter does nothing with them.
//! [`UNUSED_EXPORTS`] are the callbacks this filter does not implement; the build removes
//! them (`build_filter` in `scripts/lib.sh`, and the end-to-end tests' build), which took
//! 6.5k instructions off every request in Envoy (BENCHMARKS.md).

use thiserror::Error;

/// SDK callbacks the filter does not implement (the root context implements `on_vm_start`,
/// `on_configure`, `on_tick`, `on_http_call_response`, `on_done`; the HTTP context
/// `on_http_request_headers` and `on_log`). Implementing one of these means removing it here,
/// or Envoy never calls it.
pub const UNUSED_EXPORTS: &[&str] = &[
    "proxy_on_request_body",
    "proxy_on_request_trailers",
    "proxy_on_response_headers",
    "proxy_on_response_body",
    "proxy_on_response_trailers",
    "proxy_on_new_connection",
    "proxy_on_downstream_data",
    "proxy_on_downstream_connection_close",
    "proxy_on_upstream_data",
    "proxy_on_upstream_connection_close",
    "proxy_on_grpc_receive_initial_metadata",
    "proxy_on_grpc_receive",
    "proxy_on_grpc_receive_trailing_metadata",
    "proxy_on_grpc_close",
    "proxy_on_queue_ready",
    "proxy_on_foreign_function",
];

/// Why a module could not be rewritten.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ModuleError {
    /// The first 8 bytes are not `\0asm` version 1.
    #[error("not a Wasm module (no `\\0asm` version 1 header)")]
    NotWasm,
    /// A section or an export entry runs past the end of the module.
    #[error("truncated or malformed at byte {0}")]
    Malformed(usize),
}

const HEADER: &[u8] = b"\0asm\x01\0\0\0";
const EXPORT_SECTION: u8 = 7;

/// `module` without the exports named in `names`; every other byte is kept as it was.
pub fn remove_exports(module: &[u8], names: &[&str]) -> Result<Vec<u8>, ModuleError> {
    let mut out = Vec::with_capacity(module.len());
    out.extend_from_slice(HEADER);
    each_section(module, |id, raw, body, at| {
        if id != EXPORT_SECTION {
            out.extend_from_slice(raw);
            return Ok(());
        }
        let kept = kept_exports(body, at, names)?;
        out.push(EXPORT_SECTION);
        write_u32(
            &mut out,
            u32::try_from(kept.len()).map_err(|_| ModuleError::Malformed(at))?,
        );
        out.extend_from_slice(&kept);
        Ok(())
    })?;
    Ok(out)
}

/// The names a module exports, in order (lossy UTF-8).
pub fn export_names(module: &[u8]) -> Result<Vec<String>, ModuleError> {
    let mut names = Vec::new();
    each_section(module, |id, _, body, at| {
        if id == EXPORT_SECTION {
            each_export(body, at, |name, _| {
                names.push(String::from_utf8_lossy(name).into_owned());
            })?;
        }
        Ok(())
    })?;
    Ok(names)
}

/// Calls `f(id, whole section, body, body offset)` for each section after the header.
fn each_section<'m>(
    module: &'m [u8],
    mut f: impl FnMut(u8, &'m [u8], &'m [u8], usize) -> Result<(), ModuleError>,
) -> Result<(), ModuleError> {
    if !module.starts_with(HEADER) {
        return Err(ModuleError::NotWasm);
    }
    let mut pos = HEADER.len();
    while pos < module.len() {
        let start = pos;
        let id = *module.get(pos).ok_or(ModuleError::Malformed(pos))?;
        pos += 1;
        let size = read_u32(module, &mut pos)? as usize;
        let body = module
            .get(pos..pos.saturating_add(size))
            .filter(|b| b.len() == size)
            .ok_or(ModuleError::Malformed(start))?;
        let at = pos;
        pos += size;
        f(id, module.get(start..pos).unwrap_or_default(), body, at)?;
    }
    Ok(())
}

/// The export section's body with only the kept entries (copied as they were encoded).
fn kept_exports(body: &[u8], at: usize, names: &[&str]) -> Result<Vec<u8>, ModuleError> {
    let mut entries = Vec::with_capacity(body.len());
    let mut kept = 0u32;
    each_export(body, at, |name, entry| {
        if !names.iter().any(|n| n.as_bytes() == name) {
            entries.extend_from_slice(entry);
            kept += 1;
        }
    })?;
    let mut out = Vec::with_capacity(entries.len() + 5);
    write_u32(&mut out, kept);
    out.extend_from_slice(&entries);
    Ok(out)
}

/// Calls `f(name, encoded entry)` for each entry of an export section's body (`at`: its
/// offset in the module, for errors).
fn each_export<'b>(
    body: &'b [u8],
    at: usize,
    mut f: impl FnMut(&'b [u8], &'b [u8]),
) -> Result<(), ModuleError> {
    let bad = |p: usize| ModuleError::Malformed(at + p);
    let mut pos = 0;
    let count = read_u32(body, &mut pos).map_err(|_| bad(0))?;
    for _ in 0..count {
        let entry = pos;
        let len = read_u32(body, &mut pos).map_err(|_| bad(entry))? as usize;
        let name = body
            .get(pos..pos.saturating_add(len))
            .filter(|n| n.len() == len)
            .ok_or(bad(pos))?;
        pos += len;
        // The kind byte, then the index.
        body.get(pos).ok_or(bad(pos))?;
        pos += 1;
        read_u32(body, &mut pos).map_err(|_| bad(pos))?;
        f(name, body.get(entry..pos).unwrap_or_default());
    }
    if pos != body.len() {
        return Err(bad(pos));
    }
    Ok(())
}

/// An unsigned LEB128 `u32` (at most 5 bytes).
fn read_u32(buf: &[u8], pos: &mut usize) -> Result<u32, ModuleError> {
    let start = *pos;
    let mut value = 0u32;
    for shift in (0..35).step_by(7) {
        let byte = *buf.get(*pos).ok_or(ModuleError::Malformed(start))?;
        *pos += 1;
        let bits = u32::from(byte & 0x7f);
        if shift == 28 && bits > 0x0f {
            return Err(ModuleError::Malformed(start));
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ModuleError::Malformed(start))
}

fn write_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests;
