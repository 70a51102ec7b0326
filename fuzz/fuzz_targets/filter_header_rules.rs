//! Drop rules and header allow-lists over arbitrary patterns and headers: never panics; an
//! allow-listed header is reported once, lowercase, and present; a pattern never yields a
//! credential header.
//!
//! Input: patterns, a NUL, then header fields separated by NUL as `name:value`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::config::{DropConfig, PathRule};
use meshtrace_filter::fields::Fields;
use meshtrace_filter::glob::Glob;
use meshtrace_filter::rules::{AllowList, DropRules, is_sensitive, split_authority};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |&b| b == 0);
    let patterns: Vec<String> = String::from_utf8_lossy(parts.next().unwrap_or_default())
        .split(' ')
        .map(str::to_owned)
        .collect();
    let fields = Fields::from_pairs(
        parts
            .next()
            .unwrap_or_default()
            .split(|&b| b == 0)
            .filter_map(|f| {
                let i = f.iter().position(|&b| b == b':').unwrap_or(f.len());
                let name = std::str::from_utf8(f.get(..i)?).ok()?.to_ascii_lowercase();
                Some((name, f.get(i + 1..).unwrap_or_default()))
            })
            .collect::<Vec<_>>(),
    );
    let drop = DropRules::new(&DropConfig {
        paths: patterns.iter().map(|p| PathRule::Prefix(p.clone())).collect(),
        user_agents: patterns.clone(),
        methods: patterns.clone(),
        hosts: patterns.clone(),
    });
    let _ = drop.check(&fields);
    let lowered: Vec<String> = patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
    let list = AllowList::new(&lowered);
    let mut seen: Vec<String> = Vec::new();
    list.for_each(&fields, |name, f| {
        assert!(!seen.iter().any(|s| s == name), "{name} reported twice");
        assert!(f.contains(name));
        assert_eq!(name, name.to_ascii_lowercase());
        if is_sensitive(name) {
            assert!(lowered.iter().any(|p| p == name), "{name} matched by a pattern");
        }
        seen.push(name.to_owned());
    });
    for (name, value) in fields.pairs() {
        for p in &patterns {
            let _ = Glob::new(p).matches(value);
            let _ = Glob::new_case_insensitive(p).matches(name);
        }
        let (host, port) = split_authority(value);
        assert!(host.len() <= value.len());
        if port.is_some() {
            assert!(value.contains(&b':'));
        }
    }
});
