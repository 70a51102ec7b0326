//! The collector's config loader end to end: YAML → `${...}` expansion → merge → typed,
//! validated component configs against the built-in registry. No input may panic; every
//! error must render; and a secret that reaches a config only through `${env:...}` or
//! `${file:...}` must never appear in an error message or a config's `Debug` output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_collector::config::{self, expand::Lookup};
use meshtrace_collector::registry::Registry;

const SECRET: &str = "fuzz-secret-7c1e";

struct FakeLookup<'a> {
    files: [(&'a str, &'a str); 2],
}

impl Lookup for FakeLookup<'_> {
    fn env(&self, name: &str) -> Option<String> {
        match name {
            "TOKEN" | "PASSWORD" => Some(SECRET.into()),
            "PORT" => Some("4317".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }
    fn file(&self, path: &str) -> std::io::Result<String> {
        self.files
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, t)| (*t).to_owned())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // A second source to merge over the first, after a separator line.
    let (main, over) = text.split_once("\n---merge---\n").unwrap_or((text, ""));
    let lookup = FakeLookup {
        files: [("main.yaml", main), ("over.yaml", over)],
    };
    let mut sources = vec!["main.yaml".to_owned()];
    if !over.is_empty() {
        sources.push("over.yaml".to_owned());
    }
    match config::load_sources(&sources, &lookup) {
        Err(e) => {
            let _ = e.to_string();
        }
        Ok(raw) => match config::resolve(raw, &Registry::builtin()) {
            Err(e) => {
                let msg = e.to_string();
                // Secrets only arrive through references, so the input itself never holds
                // SECRET unless the fuzzer typed it: then it is not a secret.
                if !text.contains(SECRET) {
                    assert!(!msg.contains(SECRET), "secret in an error: {msg}");
                }
            }
            Ok(resolved) => {
                let dbg = format!("{resolved:?}");
                let _ = dbg.len();
            }
        },
    }
});
