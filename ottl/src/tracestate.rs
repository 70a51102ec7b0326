//! `trace_state["key"]` lookups with the rules of OpenTelemetry Go's `trace.ParseTraceState`:
//! the whole header must be valid W3C `tracestate` (at most 32 members, no duplicate keys,
//! well-formed keys and values), otherwise the lookup is `nil`; a valid header without the key
//! gives `""`.

const MAX_MEMBERS: usize = 32;

/// The value of `key` in the header: `Some("")` if absent, `None` if the header is invalid.
pub(crate) fn get<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let mut found: Option<&'a str> = None;
    let mut count = 0usize;
    for member in header.split(',') {
        if member.is_empty() {
            continue;
        }
        let (k, v) = member.split_once('=')?;
        let k = k.trim_start_matches([' ', '\t']);
        let v = v.trim_end_matches([' ', '\t']);
        if !valid_key(k) || !valid_value(v) {
            return None;
        }
        count += 1;
        if count > MAX_MEMBERS {
            return None;
        }
        // Duplicate keys invalidate the header; checking each key against the rest keeps this
        // allocation-free (headers are at most 32 short members).
        if header_has_duplicate(header, k, member) {
            return None;
        }
        if k == key {
            found = Some(v);
        }
    }
    Some(found.unwrap_or(""))
}

/// The header with `key=value` as its first member and any earlier `key` removed (Go's
/// `TraceState.Insert`); `None` when the header is invalid or the member is not well formed.
/// A header already at the limit loses its last member.
pub(crate) fn insert(header: &str, key: &str, value: &str) -> Option<String> {
    get(header, key)?;
    if !valid_key(key) || !valid_value(value) {
        return None;
    }
    let mut out = format!("{key}={value}");
    let others = header
        .split(',')
        .filter(|m| !m.is_empty())
        .filter(|m| {
            m.split_once('=')
                .map(|(k, _)| k.trim_start_matches([' ', '\t']))
                != Some(key)
        })
        .take(MAX_MEMBERS - 1);
    for m in others {
        out.push(',');
        out.push_str(m.trim_matches([' ', '\t']));
    }
    Some(out)
}

fn header_has_duplicate(header: &str, key: &str, this: &str) -> bool {
    let this_ptr = this.as_ptr();
    header
        .split(',')
        .filter(|m| !m.is_empty() && m.as_ptr() != this_ptr)
        .filter_map(|m| {
            m.split_once('=')
                .map(|(k, _)| k.trim_start_matches([' ', '\t']))
        })
        .any(|k| k == key)
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/')
}

/// `simple-key = lcalpha 0*255(keychar)` or `tenant-id "@" system-id`.
pub(crate) fn valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    match key.split_once('@') {
        None => {
            bytes.len() <= 256
                && bytes.first().is_some_and(u8::is_ascii_lowercase)
                && bytes.iter().all(|&b| is_key_char(b))
        }
        Some((tenant, system)) => {
            let (t, s) = (tenant.as_bytes(), system.as_bytes());
            !t.is_empty()
                && t.len() <= 241
                && t.first()
                    .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && t.iter().all(|&b| is_key_char(b))
                && !s.is_empty()
                && s.len() <= 14
                && s.first().is_some_and(u8::is_ascii_lowercase)
                && s.iter().all(|&b| is_key_char(b))
        }
    }
}

/// Printable ASCII except `,` and `=`, at most 256 bytes, not ending in a space.
pub(crate) fn valid_value(v: &str) -> bool {
    let bytes = v.as_bytes();
    let ok = |b: u8| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=';
    !bytes.is_empty()
        && bytes.len() <= 256
        && bytes.iter().all(|&b| ok(b))
        && bytes.last().is_some_and(|&b| b != b' ')
}

#[cfg(test)]
mod tests {
    use super::get;

    #[test]
    fn lookups() {
        assert_eq!(
            get("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "congo"),
            Some("t61rcWkgMzE")
        );
        assert_eq!(get("rojo=1, congo=2 ", "congo"), Some("2"));
        assert_eq!(get("rojo=1", "missing"), Some(""));
        assert_eq!(get("", "x"), Some(""));
        assert_eq!(get("tenant@sys=v", "tenant@sys"), Some("v"));
        assert_eq!(get("Bad=1", "Bad"), None, "uppercase key");
        assert_eq!(get("a=1,a=2", "a"), None, "duplicate");
        assert_eq!(get("a", "a"), None, "no '='");
        assert_eq!(get("a=x=y", "a"), None, "'=' in value");
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert_eq!(get(&many.join(","), "k1"), None);
    }
}
