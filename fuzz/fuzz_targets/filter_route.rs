//! Route templates: parsing never panics; an accepted template without parameters or `*`
//! matches its own text, and matching any path never panics.
//!
//! Input: the template, a newline, the path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::route::RouteTemplate;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |&b| b == b'\n');
    let Ok(template) = std::str::from_utf8(parts.next().unwrap_or_default()) else { return };
    let path = parts.next().unwrap_or_default();
    if let Ok(t) = RouteTemplate::parse(template) {
        let _ = t.matches(path);
        if !template.contains(['{', '*']) {
            assert!(t.matches(template.as_bytes()), "{template} must match itself");
        }
    }
});
