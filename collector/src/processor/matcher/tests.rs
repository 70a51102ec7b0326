use super::*;

#[test]
fn regexp_attribute_text_is_the_collectors() {
    let mut buf = String::new();
    assert_eq!(as_match_string(&AnyValueRef::Int(-3), &mut buf), Some("-3"));
    let mut buf = String::new();
    // strconv.FormatFloat(f, 'f', -1, 64): no exponent.
    assert_eq!(
        as_match_string(&AnyValueRef::Double(1e21), &mut buf),
        Some("1000000000000000000000")
    );
    let mut buf = String::new();
    assert_eq!(
        as_match_string(&AnyValueRef::Bool(false), &mut buf),
        Some("false")
    );
    let mut buf = String::new();
    assert_eq!(as_match_string(&AnyValueRef::Bytes(b"x"), &mut buf), None);
}

#[test]
fn strict_values_are_typed() {
    let v = |y: &str| Scalar::from_config(&crate::config::value::from_yaml(y).unwrap()).unwrap();
    assert!(v("'200'").matches(&AnyValueRef::Str("200")));
    assert!(!v("200").matches(&AnyValueRef::Str("200")));
    assert!(v("200").matches(&AnyValueRef::Int(200)));
    assert!(!v("200").matches(&AnyValueRef::Double(200.0)));
    assert!(v("2.5").matches(&AnyValueRef::Double(2.5)));
    assert!(v("true").matches(&AnyValueRef::Bool(true)));
    assert!(
        !v("yes").matches(&AnyValueRef::Bool(true)),
        "YAML 1.2: yes is a string"
    );
}

#[test]
fn span_kind_names() {
    assert_eq!(kind_str(2), "SPAN_KIND_SERVER");
    assert_eq!(kind_str(0), "SPAN_KIND_UNSPECIFIED");
    assert_eq!(kind_str(9), "");
}
