//! The export-section rewrite of the built filter (`meshtrace_filter::module`): any bytes
//! after a Wasm header never panic; a module it rewrites lists its exports less the removed
//! ones, in order, and rewriting it again changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::module::{UNUSED_EXPORTS, export_names, remove_exports};

fuzz_target!(|data: &[u8]| {
    let module = [b"\0asm\x01\0\0\0".as_slice(), data].concat();
    let Ok(out) = remove_exports(&module, UNUSED_EXPORTS) else { return };
    let before = export_names(&module).expect("a module rewritten is a module read");
    let want: Vec<String> = before.into_iter().filter(|n| !UNUSED_EXPORTS.contains(&n.as_str())).collect();
    assert_eq!(export_names(&out).expect("the rewrite is readable"), want);
    assert_eq!(remove_exports(&out, UNUSED_EXPORTS).as_ref(), Ok(&out));
});
