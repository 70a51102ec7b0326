//! Tables of real `tracestate` values (many from the W3C test suite, strict level 2) with the
//! exact outcome, truncation by the spec's rules, and properties.

use super::*;
use proptest::prelude::*;

fn canonical(src: &str) -> Result<String, TraceStateError> {
    TraceState::parse(src.as_bytes()).map(|ts| ts.to_header_value())
}

#[test]
fn valid_lists_are_canonicalised() {
    let cases: &[(&str, &str)] = &[
        ("congo=t61rcWkgMzE", "congo=t61rcWkgMzE"),
        (
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        ),
        // OWS around members is dropped
        ("foo=1 \t , \t bar=2, \t baz=3", "foo=1,bar=2,baz=3"),
        ("foo=1\t \t,\t \tbar=2,\t \tbaz=3", "foo=1,bar=2,baz=3"),
        (" foo=1", "foo=1"),
        ("\tfoo=1", "foo=1"),
        ("foo=1 ", "foo=1"),
        ("\t foo=1 \t", "foo=1"),
        // empty members are allowed and dropped
        ("", ""),
        (" , ,", ""),
        ("foo=1,,bar=2,", "foo=1,bar=2"),
        // leading spaces inside a value are part of it
        ("foo= 1", "foo= 1"),
        // multi-tenant keys and every key character
        ("tenant@system=v", "tenant@system=v"),
        ("foo@=1,bar=2", "foo@=1,bar=2"),
        ("foo@@bar=1", "foo@@bar=1"),
        ("foo@bar@baz=1", "foo@bar@baz=1"),
        ("0start=1", "0start=1"),
        ("a-z_*/@=v", "a-z_*/@=v"),
        // duplicate keys: the left-most (most recent) wins
        ("foo=1,foo=1", "foo=1"),
        ("foo=1,foo=2", "foo=1"),
        ("foo=1,bar=2,foo=3", "foo=1,bar=2"),
        // several fields combined by the proxy
        (
            "foo=1,bar=2,rojo=1,congo=2,baz=3",
            "foo=1,bar=2,rojo=1,congo=2,baz=3",
        ),
        ("foo=1,", "foo=1"),
        (",foo=1", "foo=1"),
    ];
    for (src, want) in cases {
        assert_eq!(canonical(src).as_deref(), Ok(*want), "{src:?}");
    }
}

#[test]
fn all_allowed_characters() {
    let key_plain: String = ('a'..='z').chain('0'..='9').chain("_-*/".chars()).collect();
    let key_vendor = format!("{key_plain}@a-z0-9_-*/");
    let value: String = (0x20u8..=0x7e)
        .filter(|c| *c != b',' && *c != b'=')
        .map(char::from)
        .collect();
    for key in [key_plain, key_vendor] {
        let src = format!("{key}={value}");
        let ts = TraceState::parse(src.as_bytes()).unwrap();
        assert_eq!(ts.get(&key), Some(value.as_str()));
        assert_eq!(ts.to_header_value(), src);
    }
}

#[test]
fn invalid_members_invalidate_the_whole_header() {
    use TraceStateError::*;
    let long_key = "z".repeat(257);
    let long_value = "v".repeat(257);
    let cases: Vec<(String, TraceStateError)> = vec![
        ("foo =1".into(), InvalidKey { index: 0 }),
        ("FOO=1".into(), InvalidKey { index: 0 }),
        ("foo.bar=1".into(), InvalidKey { index: 0 }),
        ("@foo=1,bar=2".into(), InvalidKey { index: 0 }),
        ("_foo=1".into(), InvalidKey { index: 0 }),
        ("=1".into(), InvalidKey { index: 0 }),
        (format!("foo=1,{long_key}=1"), InvalidKey { index: 1 }),
        ("foo=bar=baz".into(), InvalidValue { index: 0 }),
        ("foo=,bar=3".into(), InvalidValue { index: 0 }),
        ("foo=a\tb".into(), InvalidValue { index: 0 }),
        ("foo=\u{e9}".into(), InvalidValue { index: 0 }),
        (format!("foo={long_value}"), InvalidValue { index: 0 }),
        ("foo".into(), MissingEquals { index: 0 }),
        ("foo=1,bar".into(), MissingEquals { index: 1 }),
    ];
    for (src, want) in cases {
        assert_eq!(TraceState::parse(src.as_bytes()), Err(want), "{src:?}");
    }
    assert_eq!(
        TraceState::parse(b"foo=\x7f"),
        Err(InvalidValue { index: 0 }),
        "DEL is not printable"
    );
    assert_eq!(
        TraceState::parse(b"foo=\xff"),
        Err(InvalidValue { index: 0 })
    );
}

#[test]
fn key_and_value_length_limits() {
    for key in [
        "z".repeat(256),
        format!("{}@{}", "t".repeat(241), "v".repeat(14)),
        format!("{}@v", "t".repeat(242)),
        format!("t@{}", "v".repeat(15)),
    ] {
        let src = format!("foo=1,{key}=1");
        assert_eq!(
            canonical(&src),
            Ok(src.clone()),
            "key of {} chars",
            key.len()
        );
    }
    let src = format!("foo={}", "v".repeat(256));
    assert_eq!(canonical(&src), Ok(src.clone()));
}

fn members(n: usize) -> String {
    (1..=n)
        .map(|i| format!("bar{i:02}={i:02}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn member_count_limit() {
    let m32 = members(32);
    let ts = TraceState::parse(m32.as_bytes()).unwrap();
    assert_eq!(ts.len(), 32);
    assert_eq!(ts.get("bar01"), Some("01"));
    assert_eq!(
        TraceState::parse(members(33).as_bytes()),
        Err(TraceStateError::TooManyMembers)
    );
    // Empty members do not count.
    let padded = format!("{},,,,", members(32));
    assert_eq!(
        TraceState::parse(padded.as_bytes()).map(|t| t.len()),
        Ok(32)
    );
    // Duplicates count towards the limit of what was received.
    let dups = format!("{},bar01=x", members(32));
    assert_eq!(
        TraceState::parse(dups.as_bytes()),
        Err(TraceStateError::TooManyMembers)
    );
}

#[test]
fn duplicates_are_counted() {
    let ts = TraceState::parse(b"a=1,b=2,a=3,b=4,c=5").unwrap();
    assert_eq!(ts.to_header_value(), "a=1,b=2,c=5");
    assert_eq!(ts.duplicates_dropped(), 2);
}

#[test]
fn truncation_removes_large_members_first_then_from_the_right() {
    let large = format!("big={}", "x".repeat(200)); // 204 chars
    let small = |i: usize| format!("k{i:02}={}", "y".repeat(26)); // 30 chars
    // 10 small (30 chars each) + a large one in the middle: 10*30 + 204 + 10 commas = 514.
    let mut parts: Vec<String> = (0..5).map(small).collect();
    parts.push(large.clone());
    parts.extend((5..10).map(small));
    let src = parts.join(",");
    assert_eq!(src.len(), 514);
    let mut ts = TraceState::parse(src.as_bytes()).unwrap();
    assert_eq!(ts.truncate(512), 1);
    let want: Vec<String> = (0..10).map(small).collect();
    assert_eq!(ts.to_header_value(), want.join(","));

    // Without large members, members go from the right.
    let mut ts = TraceState::parse(src.as_bytes()).unwrap();
    ts.truncate(300);
    assert_eq!(
        ts.to_header_value(),
        (0..9).map(small).collect::<Vec<_>>().join(",")
    );
    assert_eq!(ts.encoded_len(), 9 * 30 + 8);

    // Two large members: the right-most large one goes first.
    let src = format!("{large},a=1,{},b=2", large.replace("big", "big2"));
    let mut ts = TraceState::parse(src.as_bytes()).unwrap();
    assert_eq!(ts.truncate(300), 1);
    assert_eq!(ts.to_header_value(), format!("{large},a=1,b=2"));

    // Fits already: nothing removed.
    let mut ts = TraceState::parse(b"a=1,b=2").unwrap();
    assert_eq!(ts.truncate(7), 0);
    assert_eq!(ts.truncate(6), 1);
    assert_eq!(ts.to_header_value(), "a=1");
    assert_eq!(ts.truncate(0), 1);
    assert!(ts.is_empty());
}

fn member_strategy() -> impl Strategy<Value = (String, String)> {
    (
        "[a-z0-9][a-z0-9_*/@-]{0,20}",
        "[ -+\\--<>-~]{0,20}[!-+\\--<>-~]",
    )
}

proptest! {
    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(mut ts) = TraceState::parse(&bytes) {
            ts.truncate(64);
            prop_assert!(ts.encoded_len() <= 64);
        }
    }

    #[test]
    fn round_trip(list in proptest::collection::vec(member_strategy(), 0..=32)) {
        let src = list.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" , ");
        let ts = TraceState::parse(src.as_bytes()).unwrap();
        let canon = ts.to_header_value();
        let again = TraceState::parse(canon.as_bytes()).unwrap();
        prop_assert_eq!(again.to_header_value(), canon.clone());
        prop_assert_eq!(again.members(), ts.members());
        prop_assert_eq!(canon.len(), ts.encoded_len());
        // First occurrence of each key wins, order kept.
        let mut want: Vec<(String, String)> = Vec::new();
        for (k, v) in &list {
            if !want.iter().any(|(wk, _)| wk == k) {
                want.push((k.clone(), v.clone()));
            }
        }
        let got: Vec<(String, String)> = ts.members().iter().map(|m| (m.key.to_owned(), m.value.to_owned())).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn truncation_keeps_order_and_fits(list in proptest::collection::vec(member_strategy(), 0..=32), max in 0usize..700) {
        let src = list.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let full = TraceState::parse(src.as_bytes()).unwrap();
        let mut cut = full.clone();
        cut.truncate(max);
        prop_assert!(cut.encoded_len() <= max);
        // What is left is a subsequence of what came in.
        let mut it = full.members().iter();
        for m in cut.members() {
            prop_assert!(it.any(|f| f == m));
        }
        if full.encoded_len() <= max {
            prop_assert_eq!(cut.members(), full.members());
        }
    }

    #[test]
    fn rejects_keys_not_starting_with_lcalpha_or_digit(first in 0x21u8..0x7f, rest in "[a-z0-9]{0,5}") {
        prop_assume!(!first.is_ascii_lowercase() && !first.is_ascii_digit() && first != b',' && first != b'=');
        let src = format!("{}{rest}=1", char::from(first));
        prop_assert_eq!(TraceState::parse(src.as_bytes()), Err(TraceStateError::InvalidKey { index: 0 }), "{:?}", src);
    }

    #[test]
    fn more_than_32_members_is_invalid(n in 33usize..60) {
        let list = members(n);
        prop_assert_eq!(TraceState::parse(list.as_bytes()), Err(TraceStateError::TooManyMembers));
    }
}
