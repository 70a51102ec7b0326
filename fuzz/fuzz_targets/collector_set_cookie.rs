//! The OTLP/HTTP exporter's cookie jar on arbitrary `Set-Cookie` answers: never panic; what it
//! sends back is one valid `Cookie` header of `name=value` pairs, each a name the backend set.
#![no_main]

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use meshtrace_collector::exporter::cookies::Jar;

const URLS: [&str; 4] = [
    "http://gw.example.com:4318/v1/traces",
    "https://gw.example.com/v1/logs",
    "http://10.0.0.1:4318/",
    "https://[::1]:4318/custom/path",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let url = URLS[usize::from(pick) % URLS.len()];
    let jar = Jar::new(&url.parse().expect("a valid URL"));
    let mut names = Vec::new();
    // Answers are separated by NUL bytes; each line of one is a Set-Cookie header.
    for answer in rest.split(|&b| b == 0) {
        let mut h = HeaderMap::new();
        for line in answer.split(|&b| b == b'\n') {
            if let Ok(v) = HeaderValue::from_bytes(line) {
                if let Some((name, _)) = v.to_str().ok().and_then(|s| s.split_once('=')) {
                    names.push(name.trim().to_owned());
                }
                h.append(header::SET_COOKIE, v);
            }
        }
        jar.store(&h);
        let Some(cookie) = jar.header() else { continue };
        let text = cookie.to_str().expect("a visible-ASCII Cookie header");
        for pair in text.split("; ") {
            let (name, _) = pair.split_once('=').expect("name=value");
            assert!(names.iter().any(|n| n == name), "{name:?} was never set");
        }
    }
});
