use super::*;

#[test]
fn doubles_print_as_pdata_does() {
    for (d, want) in [
        (0.25, "0.25"),
        (3.0, "3"),
        (-0.0, "-0"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-7"),
        (123456789.125, "123456789.125"),
        (1e20, "100000000000000000000"),
        (f64::NAN, "json: unsupported value: NaN"),
        (f64::NEG_INFINITY, "json: unsupported value: -Inf"),
    ] {
        assert_eq!(go_float_string(d), want, "{d}");
    }
}

#[test]
fn strings_of_every_type() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    assert_eq!(as_string(AnyValueRef::Bytes(b"hi")), "aGk=");
    assert_eq!(as_string(AnyValueRef::Empty), "");
    let list = AttrValue::Array(vec![
        AttrValue::from("a"),
        AttrValue::Int(1),
        AttrValue::Bool(true),
    ]);
    let map = AttrValue::KvList(vec![
        KeyValue::new("z", AttrValue::Double(0.5)),
        KeyValue::new("a", AttrValue::from("x")),
        KeyValue::new("one", AttrValue::Double(1.0)),
        KeyValue::new("big", AttrValue::Double(1e21)),
        KeyValue::new("list", AttrValue::Array(vec![AttrValue::Double(-2.0)])),
    ]);
    assert_eq!(with_value(&list, as_string), r#"["a",1,true]"#);
    // Map keys sorted and numbers written as Go's encoding/json writes them.
    assert_eq!(
        with_value(&map, as_string),
        r#"{"a":"x","big":1e+21,"list":[-2],"one":1,"z":0.5}"#
    );
    // Go's encoder fails on NaN, and pdata keeps the empty result.
    let nan = AttrValue::Array(vec![AttrValue::Double(f64::NAN)]);
    assert_eq!(with_value(&nan, as_string), "");
}

#[test]
fn numbers_parse_as_go_parses_them() {
    assert_eq!(parse_go_float("9.75"), Some(9.75));
    assert_eq!(parse_go_float("-1e3"), Some(-1000.0));
    assert_eq!(parse_go_float("Inf"), Some(f64::INFINITY));
    assert_eq!(parse_go_float("1_0"), None);
    assert_eq!(parse_go_float(" 1"), None);
    assert_eq!(parse_go_float(""), None);
    // Too large for a double: Go's ErrRange, and `convert` leaves the string.
    assert_eq!(parse_go_float("1e400"), None);
    assert_eq!(parse_go_float("-1e400"), None);
    assert_eq!(go_float_to_int(2.9), 2);
    assert_eq!(go_float_to_int(-2.9), -2);
    assert_eq!(go_float_to_int(f64::NAN), i64::MIN);
    assert_eq!(go_float_to_int(1e300), i64::MIN);
}

#[test]
fn hashes_of_unhashable_values_are_empty() {
    assert_eq!(hash_value(AnyValueRef::Str("")), "");
    assert_eq!(hash_value(AnyValueRef::Bytes(b"x")), "");
    assert_eq!(
        hash_value(AnyValueRef::Bool(false)),
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    );
}

#[test]
fn context_values_follow_the_collectors_lookup() {
    let c = ClientInfo {
        address: Some("2001:db8::1".parse().unwrap()),
        metadata: vec![("authorization".into(), "Bearer x".into())],
        auth: crate::extension::auth::AuthData(vec![("username", "envoy".into())]),
    };
    assert_eq!(
        context_value(&c, "client.address").as_deref(),
        Some("2001:db8::1")
    );
    assert_eq!(
        context_value(&c, "metadata.Authorization").as_deref(),
        Some("Bearer x")
    );
    assert_eq!(
        context_value(&c, "authorization").as_deref(),
        Some("Bearer x")
    );
    assert_eq!(context_value(&c, "auth.subject"), None);
    // What the authenticator passed on (basicauth: the user).
    assert_eq!(context_value(&c, "auth.username").as_deref(), Some("envoy"));
    // No address known: the Collector still sets the key, to "".
    assert_eq!(
        context_value(&ClientInfo::default(), "client.address").as_deref(),
        Some("")
    );
}
