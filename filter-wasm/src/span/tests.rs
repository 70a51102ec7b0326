//! Status rules and Envoy's flag names. The encoding itself is decoded field by field with
//! `opentelemetry-proto` in `tests/otlp_roundtrip.rs` (native only: prost is not in the
//! `.wasm`).

use super::*;

#[test]
fn error_status_table() {
    use SpanKind::*;
    let uf = 1 << 5;
    let dc = 1 << 14;
    let cases: &[(SpanKind, u16, u64, bool)] = &[
        (Server, 200, 0, false),
        (Server, 404, 0, false),
        (Client, 404, 0, true),
        (Server, 499, 0, false),
        (Server, 500, 0, true),
        (Server, 503, 0, true),
        (Client, 503, uf, true),
        (Server, 0, 0, true),
        (Server, 200, uf, true),
        // A client that went away is not a failure of this service.
        (Server, 200, dc, false),
        (Client, 302, 0, false),
    ];
    for (kind, status, flags, want) in cases {
        assert_eq!(
            is_error(*kind, *status, *flags),
            *want,
            "{kind:?} {status} {flags:#x}"
        );
    }
}

#[test]
fn flag_names_in_bit_order() {
    let mut s = String::new();
    flags_text((1 << 5) | (1 << 15), &mut s);
    assert_eq!(s, "UF,URX");
    let mut s = String::new();
    flags_text(1 << 1, &mut s);
    assert_eq!(s, "UH");
    let mut s = String::new();
    flags_text(0, &mut s);
    assert_eq!(s, "");
    // Bits beyond the table (future flags) are ignored rather than misnamed.
    let mut s = String::new();
    flags_text(1 << 40, &mut s);
    assert_eq!(s, "");
}

#[test]
fn protocol_versions() {
    assert_eq!(protocol_version(b"HTTP/1.1"), Some("1.1"));
    assert_eq!(protocol_version(b"HTTP/2"), Some("2"));
    assert_eq!(protocol_version(b"HTTP/3"), Some("3"));
    assert_eq!(protocol_version(b"HTTP/1.0"), Some("1.0"));
    assert_eq!(protocol_version(b"SPDY"), None);
}

#[test]
fn known_methods_can_be_replaced() {
    let webdav = ["GET".to_owned(), "PROPFIND".to_owned()];
    assert_eq!(
        recorded_method(b"PROPFIND", Some(&webdav)),
        Some("PROPFIND")
    );
    assert_eq!(recorded_method(b"GET", Some(&webdav)), Some("GET"));
    // The list replaces the conventions' one, as their environment variable does.
    assert_eq!(recorded_method(b"POST", Some(&webdav)), None);
    assert_eq!(recorded_method(b"POST", None), Some("POST"));
    assert_eq!(recorded_method(b"PROPFIND", None), None);
}

#[test]
fn unknown_methods_are_other() {
    assert_eq!(known_method(b"GET"), Some("GET"));
    assert_eq!(known_method(b"get"), None);
    assert_eq!(known_method(b"PROPFIND"), None);
}
