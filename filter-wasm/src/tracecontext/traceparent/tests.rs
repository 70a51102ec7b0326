//! Tables of real header values (many from the W3C trace-context test suite) with the exact
//! parse result, plus properties.

use super::*;
use proptest::prelude::*;

const TRACE: &str = "12345678901234567890123456789012";
const PARENT: &str = "1234567890123456";

fn ok(value: &str) -> TraceParent {
    match TraceParent::parse(value.as_bytes()) {
        Ok(tp) => tp,
        Err(e) => panic!("{value:?} should parse, got {e}"),
    }
}

#[test]
fn valid_version_00() {
    let tp = ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    assert_eq!(tp.version, 0);
    assert_eq!(tp.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(tp.parent_id.to_string(), "00f067aa0ba902b7");
    assert_eq!(tp.flags, TraceFlags(0x01));
    let tp = ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    assert!(!tp.flags.sampled());
    // Unknown flag bits are kept as received; writers mask them (propagation).
    assert_eq!(
        ok(&format!("00-{TRACE}-{PARENT}-ff")).flags,
        TraceFlags(0xff)
    );
    assert_eq!(
        ok(&format!("00-{TRACE}-{PARENT}-02")).flags,
        TraceFlags(0x02)
    );
}

#[test]
fn surrounding_ows_is_ignored() {
    for v in [
        format!(" 00-{TRACE}-{PARENT}-01"),
        format!("\t00-{TRACE}-{PARENT}-01"),
        format!("00-{TRACE}-{PARENT}-01 "),
        format!("00-{TRACE}-{PARENT}-01\t"),
        format!("\t 00-{TRACE}-{PARENT}-01 \t"),
    ] {
        assert_eq!(ok(&v).trace_id.to_string(), TRACE, "{v:?}");
    }
}

#[test]
fn future_versions_use_the_forward_compatible_prefix() {
    let tp = ok(&format!("cc-{TRACE}-{PARENT}-01"));
    assert_eq!(
        (tp.version, tp.trace_id.to_string()),
        (0xcc, TRACE.to_owned())
    );
    let tp = ok(&format!(
        "cc-{TRACE}-{PARENT}-01-what-the-future-will-be-like"
    ));
    assert_eq!(tp.parent_id.to_string(), PARENT);
    assert_eq!(tp.flags, TraceFlags(0x01));
    assert_eq!(
        ok(&format!("01-{TRACE}-{PARENT}-03-")).flags,
        TraceFlags(0x03)
    );
    assert_eq!(
        TraceParent::parse(
            format!("cc-{TRACE}-{PARENT}-01.what-the-future-will-be-like").as_bytes()
        ),
        Err(TraceParentError::TrailingData)
    );
    assert_eq!(
        TraceParent::parse(format!("cc-{TRACE}-{PARENT}-0").as_bytes()),
        Err(TraceParentError::TooShort),
        "shorter than 55 characters: restart"
    );
}

#[test]
fn every_invalid_form_is_rejected_with_its_reason() {
    use TraceParentError::*;
    let cases: &[(String, TraceParentError)] = &[
        // version
        (format!("ff-{TRACE}-{PARENT}-01"), VersionForbidden),
        (format!(".0-{TRACE}-{PARENT}-01"), Version),
        (format!("0.-{TRACE}-{PARENT}-01"), Version),
        (format!("000-{TRACE}-{PARENT}-01"), Version),
        (format!("0000-{TRACE}-{PARENT}-01"), Version),
        (format!("0-{TRACE}-{PARENT}-01"), Version),
        (format!("0A-{TRACE}-{PARENT}-01"), Version),
        (format!("00_{TRACE}-{PARENT}-01"), Version),
        (String::new(), Version),
        ("00".to_owned(), Version),
        ("00-".to_owned(), TooShort),
        // trace-id
        (
            format!("00-00000000000000000000000000000000-{PARENT}-01"),
            TraceIdZero,
        ),
        (
            format!("00-.2345678901234567890123456789012-{PARENT}-01"),
            TraceIdHex,
        ),
        (
            format!("00-1234567890123456789012345678901.-{PARENT}-01"),
            TraceIdHex,
        ),
        (
            format!("00-4BF92F3577B34DA6A3CE929D0E0E4736-{PARENT}-01"),
            TraceIdHex,
        ),
        (
            format!("00-4bf92f3577b34da6a3ce929d0e0e473G-{PARENT}-01"),
            TraceIdHex,
        ),
        (
            format!("00-123456789012345678901234567890123-{PARENT}-01"),
            Separator,
        ),
        (
            format!("00-1234567890123456789012345678901-{PARENT}-01"),
            TooShort,
        ),
        // parent-id
        (format!("00-{TRACE}-0000000000000000-01"), ParentIdZero),
        (format!("00-{TRACE}-.234567890123456-01"), ParentIdHex),
        (format!("00-{TRACE}-123456789012345.-01"), ParentIdHex),
        (format!("00-{TRACE}-00F067AA0BA902B7-01"), ParentIdHex),
        (format!("00-{TRACE}-12345678901234567-01"), Separator),
        (format!("00-{TRACE}-123456789012345-01"), TooShort),
        // trace-flags
        (format!("00-{TRACE}-{PARENT}-.0"), FlagsHex),
        (format!("00-{TRACE}-{PARENT}-0."), FlagsHex),
        (format!("00-{TRACE}-{PARENT}-0A"), FlagsHex),
        (format!("00-{TRACE}-{PARENT}-001"), TrailingData),
        (format!("00-{TRACE}-{PARENT}-1"), TooShort),
        // separators
        (format!("00-{TRACE}_{PARENT}-01"), Separator),
        (format!("00-{TRACE}-{PARENT}_01"), Separator),
        // trailing data on version 00
        (format!("00-{TRACE}-{PARENT}-01."), TrailingData),
        (
            format!("00-{TRACE}-{PARENT}-01-what-the-future-will-be-like"),
            TrailingData,
        ),
        // two headers joined by the proxy (RFC 9110 field combination)
        (
            format!("00-{TRACE}-{PARENT}-01,00-{TRACE}-{PARENT}-01"),
            TrailingData,
        ),
        (
            format!("cc-{TRACE}-{PARENT}-01,cc-{TRACE}-{PARENT}-01"),
            TrailingData,
        ),
        // inner whitespace is not OWS
        (format!("00- {TRACE}-{PARENT}-01"), Separator),
    ];
    for (value, want) in cases {
        assert_eq!(
            TraceParent::parse(value.as_bytes()),
            Err(*want),
            "{value:?}"
        );
    }
}

#[test]
fn non_ascii_bytes_are_rejected_not_panicked_on() {
    let mut v = format!("00-{TRACE}-{PARENT}-01").into_bytes();
    if let Some(b) = v.get_mut(10) {
        *b = 0xff;
    }
    assert_eq!(TraceParent::parse(&v), Err(TraceParentError::TraceIdHex));
    assert_eq!(
        TraceParent::parse(&[0xe2, 0x82, 0xac]),
        Err(TraceParentError::Version)
    );
}

#[test]
fn encode_writes_version_00() {
    let tp = ok(&format!("cc-{TRACE}-{PARENT}-01-extra"));
    assert_eq!(
        &tp.encode()[..],
        format!("00-{TRACE}-{PARENT}-01").as_bytes()
    );
}

fn lower_hex(len: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[0-9a-f]{{{len}}}")).unwrap()
}

proptest! {
    #[test]
    fn round_trip(trace in any::<[u8; 16]>(), parent in any::<[u8; 8]>(), flags in any::<u8>()) {
        prop_assume!(trace.iter().any(|&b| b != 0) && parent.iter().any(|&b| b != 0));
        let tp = TraceParent { version: 0, trace_id: TraceId(trace), parent_id: SpanId(parent), flags: TraceFlags(flags) };
        let wire = tp.encode();
        prop_assert_eq!(TraceParent::parse(&wire), Ok(tp));
    }

    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let _ = TraceParent::parse(&bytes);
    }

    #[test]
    fn accepts_only_the_spec_shape(s in "[0-9a-fA-F.\\- ]{0,70}") {
        // A small, independent model of the grammar: the parser must agree with it.
        let t = s.trim_matches(|c| c == ' ' || c == '\t');
        let lc = |f: &str, n: usize| f.len() == n && f.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        let parts: Vec<&str> = t.split('-').collect();
        let model = parts.len() >= 4
            && lc(parts[0], 2) && parts[0] != "ff"
            && lc(parts[1], 32) && parts[1].bytes().any(|c| c != b'0')
            && lc(parts[2], 16) && parts[2].bytes().any(|c| c != b'0')
            && lc(parts[3], 2)
            && (parts.len() == 4 || parts[0] != "00");
        prop_assert_eq!(TraceParent::parse(s.as_bytes()).is_ok(), model, "{:?}", s);
    }

    #[test]
    fn mutating_one_character_of_a_valid_value(
        trace in lower_hex(32), parent in lower_hex(16), pos in 0usize..55, c in any::<u8>()
    ) {
        let valid = format!("00-{trace}-{parent}-01");
        let mut bytes = valid.clone().into_bytes();
        bytes[pos] = c;
        let parsed = TraceParent::parse(&bytes);
        let is_lc_hex = c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
        let at_separator = matches!(pos, 2 | 35 | 52);
        if at_separator && c != b'-' {
            prop_assert!(parsed.is_err());
        }
        if !at_separator && !is_lc_hex {
            prop_assert!(parsed.is_err(), "{:?}", String::from_utf8_lossy(&bytes));
        }
        if let (Ok(tp), true) = (parsed, pos > 1) {
            prop_assert_eq!(&tp.encode()[..], &bytes[..]);
        }
    }
}
