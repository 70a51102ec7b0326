//! The generic configuration tree: what YAML files parse into, what merging and `${...}`
//! expansion work on, and what typed component configs are deserialized from.
//!
//! One variant is specific to expansion: a whole-value reference such as `${env:PORT}` keeps
//! both its YAML-typed value and the original text, so a string field gets `"0123"` while an
//! integer field gets `123` — the OpenTelemetry Collector's confmap does the same. A string field
//! always gets the text, even when it reads as a YAML map (`Basic: abc`); a reference that is
//! unset or empty gives other fields their zero value (`false`, `0`), as in the Collector.

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use std::fmt;

/// A node of the configuration tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or an empty value (`grpc:`).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer too large for `i64`.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A string.
    String(String),
    /// A sequence.
    Seq(Vec<Value>),
    /// A mapping, in file order.
    Map(Vec<(String, Value)>),
    /// The result of a whole-value `${...}` reference: its YAML-typed value and its text.
    Expanded {
        /// The value parsed as YAML.
        typed: Box<Value>,
        /// The text the reference resolved to.
        original: String,
    },
}

impl Value {
    /// The entry `key` of a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self.resolved() {
            Value::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value an `Expanded` node stands for; `self` otherwise.
    pub fn resolved(&self) -> &Value {
        match self {
            Value::Expanded { typed, .. } => typed.resolved(),
            v => v,
        }
    }

    /// True for `Null` (also after expansion).
    pub fn is_null(&self) -> bool {
        matches!(self.resolved(), Value::Null)
    }

    /// The map's entries, if it is one.
    pub fn as_map(&self) -> Option<&[(String, Value)]> {
        match self.resolved() {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// A short description for error messages.
    pub fn kind(&self) -> &'static str {
        match self.resolved() {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::UInt(_) => "an integer",
            Value::Float(_) => "a float",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
            Value::Expanded { .. } => "a value",
        }
    }

    /// The text of a scalar (for map keys and embedded references).
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Expanded { original, .. } => Some(original.clone()),
            Value::Null => Some(String::new()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::UInt(u) => Some(u.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::String(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// The value as JSON, with its YAML types (an expanded reference as its typed value).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self.resolved() {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::UInt(u) => J::from(*u),
            // NaN and infinities have no JSON form; their text keeps what was written.
            Value::Float(f) => {
                serde_json::Number::from_f64(*f).map_or_else(|| J::String(f.to_string()), J::Number)
            }
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Value::Expanded { .. } => J::Null,
        }
    }
}

/// Parses YAML text into a tree with YAML 1.2 booleans (`yes`/`no`/`on`/`off`/`y`/`n` stay
/// strings, as in the Collector's parser) and integers with leading zeros kept as strings
/// (`0123` is more likely an id or a key than an octal number).
pub fn from_yaml(text: &str) -> Result<Value, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, yaml_options())
}

/// Every non-empty document of a YAML stream (`---`-separated), read as [`from_yaml`] does;
/// empty and null documents (a trailing `---`) are left out.
pub fn from_yaml_documents(text: &str) -> Result<Vec<Value>, serde_saphyr::Error> {
    serde_saphyr::from_multiple_with_options(text, yaml_options())
}

fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options
}

// === impl Deserialize for Value (YAML → tree) ===

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::UInt(v), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out: Vec<(String, Value)> = Vec::new();
        while let Some((k, v)) = map.next_entry::<Value, Value>()? {
            let key = k
                .scalar_text()
                .ok_or_else(|| de::Error::custom("a map key must be a scalar"))?;
            // A repeated key: the later one wins, as in the OpenTelemetry Collector.
            if let Some(slot) = out.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = v;
            } else {
                out.push((key, v));
            }
        }
        Ok(Value::Map(out))
    }
}

// === impl Deserializer for &Value (tree → typed configs) ===

/// The error of deserializing a typed config from a [`Value`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError(pub String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

impl<'de> IntoDeserializer<'de, DeError> for &'de Value {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Int(i) => de::Unexpected::Signed(*i),
        Value::UInt(u) => de::Unexpected::Unsigned(*u),
        Value::Float(f) => de::Unexpected::Float(*f),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Seq(_) => de::Unexpected::Seq,
        Value::Map(_) => de::Unexpected::Map,
        Value::Expanded { typed, .. } => unexpected(typed),
    }
}

struct MapAcc<'de> {
    iter: std::slice::Iter<'de, (String, Value)>,
    value: Option<&'de Value>,
}

impl<'de> MapAccess<'de> for MapAcc<'de> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k.as_str().into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(v) => seed.deserialize(v),
            None => Err(DeError("value without a key".into())),
        }
    }
}

struct SeqAcc<'de>(std::slice::Iter<'de, Value>);

impl<'de> SeqAccess<'de> for SeqAcc<'de> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.0.next() {
            Some(v) => seed.deserialize(v).map(Some),
            None => Ok(None),
        }
    }
}

impl Value {
    /// A whole-value reference that was unset, empty or YAML null (`${env:UNSET}`).
    fn is_empty_reference(&self) -> bool {
        matches!(self, Value::Expanded { typed, .. } if typed.is_null())
    }
}

/// Numeric `deserialize_*` methods: an empty whole-value reference is the type's zero, as
/// the Collector's decoder gives a field whose reference resolved to nothing (its issue
/// 10949); anything else is read as it is.
macro_rules! zero_for_empty_reference {
    ($($($method:ident)+ => $visit:ident($zero:expr);)+) => {
        $($(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
                if self.is_empty_reference() {
                    return visitor.$visit($zero);
                }
                self.deserialize_any(visitor)
            }
        )+)+
    };
}

impl<'de> Deserializer<'de> for &'de Value {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::UInt(u) => visitor.visit_u64(*u),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Seq(s) => visitor.visit_seq(SeqAcc(s.iter())),
            Value::Map(m) => visitor.visit_map(MapAcc {
                iter: m.iter(),
                value: None,
            }),
            Value::Expanded { typed, .. } => typed.deserialize_any(visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            // A string field gets the reference's text, not its YAML reading.
            Value::Expanded { original, .. } => visitor.visit_borrowed_str(original),
            v => v.deserialize_any(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_empty_reference() {
            return visitor.visit_bool(false);
        }
        self.deserialize_any(visitor)
    }

    zero_for_empty_reference! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128 => visit_i64(0);
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128 => visit_u64(0);
        deserialize_f32 deserialize_f64 => visit_f64(0.0);
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.resolved() {
            Value::Null => visitor.visit_unit(),
            v => Err(de::Error::invalid_type(unexpected(v), &visitor)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.resolved() {
            // `grpc:` with nothing under it means "all defaults", as in the Collector.
            Value::Null => visitor.visit_map(MapAcc {
                iter: [].iter(),
                value: None,
            }),
            Value::Map(m) => visitor.visit_map(MapAcc {
                iter: m.iter(),
                value: None,
            }),
            v => Err(de::Error::invalid_type(unexpected(v), &visitor)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.resolved() {
            Value::Null => visitor.visit_map(MapAcc {
                iter: [].iter(),
                value: None,
            }),
            Value::Map(m) => visitor.visit_map(MapAcc {
                iter: m.iter(),
                value: None,
            }),
            v => Err(de::Error::invalid_type(unexpected(v), &visitor)),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.resolved() {
            Value::Null => visitor.visit_seq(SeqAcc([].iter())),
            Value::Seq(s) => visitor.visit_seq(SeqAcc(s.iter())),
            v => Err(de::Error::invalid_type(unexpected(v), &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self {
            Value::Expanded { original, .. } => {
                visitor.visit_enum(original.as_str().into_deserializer())
            }
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            v => Err(de::Error::invalid_type(unexpected(v), &visitor)),
        }
    }

    serde::forward_to_deserialize_any! {
        char bytes byte_buf unit_struct tuple tuple_struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct T {
        s: String,
        n: u32,
        b: Option<bool>,
    }

    fn expanded(typed: Value, original: &str) -> Value {
        Value::Expanded {
            typed: Box::new(typed),
            original: original.into(),
        }
    }

    #[test]
    fn expanded_values_give_text_to_strings_and_type_to_numbers() {
        let v = Value::Map(vec![
            ("s".into(), expanded(Value::Int(123), "0123")),
            ("n".into(), expanded(Value::Int(7), "7")),
            ("b".into(), expanded(Value::Bool(true), "true")),
        ]);
        let t = T::deserialize(&v).unwrap();
        assert_eq!(
            t,
            T {
                s: "0123".into(),
                n: 7,
                b: Some(true)
            }
        );
    }

    #[derive(Deserialize, Debug, PartialEq, Default)]
    #[serde(deny_unknown_fields)]
    struct Typed {
        #[serde(default)]
        b: bool,
        #[serde(default)]
        n: u32,
        #[serde(default)]
        i: i64,
        #[serde(default)]
        f: f64,
        #[serde(default, deserialize_with = "crate::config::duration::de")]
        d: std::time::Duration,
        #[serde(default)]
        s: String,
        #[serde(default)]
        o: Option<bool>,
    }

    #[test]
    fn empty_references_are_zero_values_and_strings_get_the_text() {
        let empty = |o: &str| expanded(Value::Null, o);
        let map = Value::Map(vec![("Basic".into(), Value::String("abc".into()))]);
        let list = Value::Seq(vec![Value::String("a".into())]);
        // (field, the reference's result) → the struct read, all other fields left default.
        let cases: Vec<(&str, Value, Typed)> = vec![
            ("b", empty(""), Typed::default()),
            ("n", empty(""), Typed::default()),
            ("i", empty("~"), Typed::default()),
            ("f", empty(""), Typed::default()),
            ("d", empty(""), Typed::default()),
            ("s", empty(""), Typed::default()),
            (
                "s",
                empty("null"),
                Typed {
                    s: "null".into(),
                    ..Typed::default()
                },
            ),
            ("o", empty(""), Typed::default()),
            (
                "b",
                expanded(Value::Bool(true), "true"),
                Typed {
                    b: true,
                    ..Typed::default()
                },
            ),
            (
                "n",
                expanded(Value::Int(7), "7"),
                Typed {
                    n: 7,
                    ..Typed::default()
                },
            ),
            (
                "s",
                expanded(map, "Basic: abc"),
                Typed {
                    s: "Basic: abc".into(),
                    ..Typed::default()
                },
            ),
            (
                "s",
                expanded(list, "[a]"),
                Typed {
                    s: "[a]".into(),
                    ..Typed::default()
                },
            ),
        ];
        for (name, v, want) in cases {
            let got = Typed::deserialize(&Value::Map(vec![(name.into(), v.clone())]));
            assert_eq!(got, Ok(want), "{name}: {v:?}");
        }
        // A literal empty value is not a reference: still refused for a boolean.
        let literal = Value::Map(vec![("b".into(), Value::String(String::new()))]);
        assert_eq!(
            Typed::deserialize(&literal).unwrap_err().0,
            "invalid type: string \"\", expected a boolean"
        );
    }

    #[test]
    fn yaml_scalars_keep_their_types() {
        let v: Value =
            crate::config::value::from_yaml("a: 1\nb: \"1\"\nc: true\nd:\ne: 1.5\nf: [x]\n")
                .unwrap();
        assert_eq!(
            v,
            Value::Map(vec![
                ("a".into(), Value::Int(1)),
                ("b".into(), Value::String("1".into())),
                ("c".into(), Value::Bool(true)),
                ("d".into(), Value::Null),
                ("e".into(), Value::Float(1.5)),
                ("f".into(), Value::Seq(vec![Value::String("x".into())])),
            ])
        );
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_named() {
        let v: Value = crate::config::value::from_yaml("s: x\nn: 1\nzz: 2\n").unwrap();
        let e = T::deserialize(&v).unwrap_err();
        assert!(e.0.contains("unknown field `zz`"), "{e}");
        let v: Value = crate::config::value::from_yaml("s: x\nn: yes\n").unwrap();
        let e = T::deserialize(&v).unwrap_err();
        assert_eq!(e.0, "invalid type: string \"yes\", expected u32");
    }
}
