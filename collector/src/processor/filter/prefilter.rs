//! The search a request goes through before its spans are evaluated: when it holds none of the
//! conditions' required literals ([`meshtrace_ottl::prefilter`]), and every attribute an
//! `IsMatch` reads is a plain string, no condition can match any of its spans.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::Compiled;
use crate::otlp::scan::StringValuedKey;

/// The compiled search.
pub(crate) struct Prefilter {
    literals: AhoCorasick,
    string_keys: Vec<StringValuedKey>,
}

impl Prefilter {
    /// The search for `c`'s span conditions, when every condition offers literals and nothing
    /// else is evaluated (no span-event conditions, no legacy match properties).
    pub(crate) fn new(c: &Compiled) -> Option<Prefilter> {
        if c.legacy.is_some() || !c.events.is_empty() {
            return None;
        }
        let mut all = meshtrace_ottl::prefilter::Literals::default();
        for set in &c.spans {
            all = all.union(set.required_literals()?);
        }
        // A DFA with leftmost-first matching: the default automaton for a handful of
        // patterns searched an Envoy request in 7 µs, more than evaluating it.
        let literals = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(MatchKind::LeftmostFirst)
            .build(&all.literals)
            .ok()?;
        let string_keys = all
            .string_keys
            .iter()
            .map(|k| StringValuedKey::new(k))
            .collect();
        Some(Prefilter {
            literals,
            string_keys,
        })
    }

    /// False only when no condition can be true of any span of the request `bytes`.
    pub(crate) fn may_match(&self, bytes: &[u8]) -> bool {
        self.literals.is_match(bytes)
            || self
                .string_keys
                .iter()
                .any(|k| !k.holds_only_strings(bytes))
    }
}
