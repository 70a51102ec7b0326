//! The W3C `tracestate` header: a list of up to 32 `key=value` members, vendor state that
//! travels with `traceparent`.
//!
//! Parsing follows the Level 2 grammar and the W3C test suite's strict level: a member with an
//! invalid key or value, or more than 32 members, makes the whole header invalid (it is then
//! dropped, never forwarded). Empty members and OWS around members are allowed and dropped.
//! Duplicate keys keep the left-most (most recent) member. Members borrow from the input.

use std::fmt;

use super::trim_ows;

/// At most this many list-members.
pub const MAX_MEMBERS: usize = 32;
/// Longest key, in characters.
pub const MAX_KEY_LEN: usize = 256;
/// Longest value, in characters.
pub const MAX_VALUE_LEN: usize = 256;
/// When truncating, members longer than this are removed first.
pub const LARGE_MEMBER_LEN: usize = 128;
/// The spec asks every vendor to propagate at least this many characters.
pub const MIN_PROPAGATED_LEN: usize = 512;

/// One `key=value` list-member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Member<'a> {
    /// The key: `[a-z0-9][a-z0-9_*/@-]{0,255}` (e.g. `congo`, `tenant@system`).
    pub key: &'a str,
    /// The opaque value: 1 to 256 printable ASCII characters, no `,` or `=`, no trailing space.
    pub value: &'a str,
}

impl Member<'_> {
    /// Length of `key=value`.
    pub fn encoded_len(&self) -> usize {
        self.key.len() + 1 + self.value.len()
    }
}

/// A valid `tracestate`: the members in order, duplicates removed.
#[derive(Clone, PartialEq, Eq)]
pub struct TraceState<'a> {
    members: [Member<'a>; MAX_MEMBERS],
    len: usize,
    duplicates: usize,
}

/// Why a `tracestate` value is invalid as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TraceStateError {
    /// More than 32 non-empty list-members.
    #[error("more than {MAX_MEMBERS} list-members")]
    TooManyMembers,
    /// A non-empty list-member without `=`.
    #[error("list-member {index} has no '='")]
    MissingEquals {
        /// Position of the member in the comma-separated list, from 0.
        index: usize,
    },
    /// A key outside the grammar or longer than 256 characters.
    #[error("list-member {index} has an invalid key")]
    InvalidKey {
        /// Position of the member in the comma-separated list, from 0.
        index: usize,
    },
    /// A value outside the grammar or longer than 256 characters.
    #[error("list-member {index} has an invalid value")]
    InvalidValue {
        /// Position of the member in the comma-separated list, from 0.
        index: usize,
    },
}

impl<'a> TraceState<'a> {
    /// An empty list.
    pub fn empty() -> Self {
        TraceState {
            members: [Member::default(); MAX_MEMBERS],
            len: 0,
            duplicates: 0,
        }
    }

    /// Parses a combined header value (several `tracestate` fields joined with `,`).
    pub fn parse(src: &'a [u8]) -> Result<Self, TraceStateError> {
        let mut state = TraceState::empty();
        let mut seen = 0usize;
        for (index, raw) in src.split(|&b| b == b',').enumerate() {
            let raw = trim_ows(raw);
            if raw.is_empty() {
                continue;
            }
            seen += 1;
            if seen > MAX_MEMBERS {
                return Err(TraceStateError::TooManyMembers);
            }
            let member = parse_member(raw, index)?;
            if state.get(member.key).is_some() {
                state.duplicates += 1;
            } else if let Some(slot) = state.members.get_mut(state.len) {
                *slot = member;
                state.len += 1;
            }
        }
        Ok(state)
    }

    /// The members, left to right.
    pub fn members(&self) -> &[Member<'a>] {
        self.members.get(..self.len).unwrap_or_default()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no members (an empty header should not be sent).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many members were dropped because an earlier member had the same key.
    pub fn duplicates_dropped(&self) -> usize {
        self.duplicates
    }

    /// The value for `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.members()
            .iter()
            .find(|m| m.key == key)
            .map(|m| m.value)
    }

    /// Length of the header value as [`TraceState::write_to`] writes it.
    pub fn encoded_len(&self) -> usize {
        let members: usize = self.members().iter().map(Member::encoded_len).sum();
        members + self.len.saturating_sub(1)
    }

    /// Removes whole members until the encoded value fits in `max_len` characters, as the
    /// spec requires: members longer than 128 characters first (right-most first), then
    /// members from the right. Returns how many were removed.
    pub fn truncate(&mut self, max_len: usize) -> usize {
        let mut removed = 0;
        let mut len = self.encoded_len();
        while len > max_len && self.len > 0 {
            let victim = self
                .members()
                .iter()
                .rposition(|m| m.encoded_len() > LARGE_MEMBER_LEN)
                .unwrap_or(self.len - 1);
            let gone = self.members().get(victim).map_or(0, Member::encoded_len);
            // The member and one comma (none once the list is empty).
            len = len.saturating_sub(gone + usize::from(self.len > 1));
            self.remove(victim);
            removed += 1;
        }
        removed
    }

    fn remove(&mut self, index: usize) {
        if let Some(tail) = self.members.get_mut(index..self.len)
            && !tail.is_empty()
        {
            tail.rotate_left(1);
            self.len -= 1;
        }
    }

    /// Appends the canonical header value (`k1=v1,k2=v2`, no whitespace) to `out`.
    pub fn write_to(&self, out: &mut String) {
        for (i, m) in self.members().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(m.key);
            out.push('=');
            out.push_str(m.value);
        }
    }

    /// The canonical header value.
    pub fn to_header_value(&self) -> String {
        let mut out = String::with_capacity(self.encoded_len());
        self.write_to(&mut out);
        out
    }
}

impl fmt::Debug for TraceState<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.members()).finish()
    }
}

fn parse_member(raw: &[u8], index: usize) -> Result<Member<'_>, TraceStateError> {
    let eq = raw
        .iter()
        .position(|&b| b == b'=')
        .ok_or(TraceStateError::MissingEquals { index })?;
    let (key, value) = match raw.split_at_checked(eq) {
        Some((key, [_, value @ ..])) => (key, value),
        _ => return Err(TraceStateError::MissingEquals { index }),
    };
    if !valid_key(key) {
        return Err(TraceStateError::InvalidKey { index });
    }
    if !valid_value(value) {
        return Err(TraceStateError::InvalidValue { index });
    }
    // Both are ASCII once validated, so these conversions cannot fail.
    match (std::str::from_utf8(key), std::str::from_utf8(value)) {
        (Ok(key), Ok(value)) => Ok(Member { key, value }),
        _ => Err(TraceStateError::InvalidValue { index }),
    }
}

/// `key = ( lcalpha / DIGIT ) 0*255 ( lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@" )`
pub fn valid_key(key: &[u8]) -> bool {
    match key {
        [first, rest @ ..] if key.len() <= MAX_KEY_LEN => {
            matches!(first, b'a'..=b'z' | b'0'..=b'9')
                && rest.iter().all(
                    |c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@'),
                )
        }
        _ => false,
    }
}

/// `value = 0*255(chr) nblk-chr`, `chr = %x20 / nblk-chr`,
/// `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`
pub fn valid_value(value: &[u8]) -> bool {
    match value {
        [.., last] if value.len() <= MAX_VALUE_LEN => {
            *last != b' '
                && value
                    .iter()
                    .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
