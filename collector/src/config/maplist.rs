//! Header maps written either way the Collector's `configopaque.MapList` reads them: a map
//! (`headers: {api-key: x}`) or a list of pairs (`headers: [{name: api-key, value: x}]`), for
//! exporters' `headers` and receivers' `response_headers`.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// `#[serde(default, deserialize_with = "maplist::de")]` for a `BTreeMap<String, V>` field.
/// A name listed twice in the list form is an error, as in the Collector (the map form cannot
/// repeat a key: YAML's later one wins).
pub fn de<'de, D, V>(d: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    d.deserialize_any(MapListVisitor(PhantomData))
}

/// One entry of the list form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pair<V> {
    name: String,
    value: V,
}

struct MapListVisitor<V>(PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for MapListVisitor<V> {
    type Value = BTreeMap<String, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of names to values, or a list of {name, value}")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((k, v)) = map.next_entry::<String, V>()? {
            out.insert(k, v);
        }
        Ok(out)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(Pair { name, value }) = seq.next_element::<Pair<V>>()? {
            if out.contains_key(&name) {
                return Err(de::Error::custom(format!(
                    "{name:?} is listed more than once"
                )));
            }
            out.insert(name, value);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Secret, Value};

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct C {
        #[serde(default, deserialize_with = "de")]
        headers: BTreeMap<String, String>,
        #[serde(default, deserialize_with = "de")]
        secrets: BTreeMap<String, Secret>,
    }

    type Parsed = Result<BTreeMap<String, String>, String>;

    fn parse(y: &str) -> Parsed {
        let v: Value = crate::config::value::from_yaml(y).unwrap();
        crate::registry::parse_typed::<C>(&v)
            .map(|c| c.headers)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn map_and_list_forms_read_alike() {
        let ab = |a: &str, b: &str| {
            BTreeMap::from([
                ("a".to_owned(), a.to_owned()),
                ("c".to_owned(), b.to_owned()),
            ])
        };
        let cases: Vec<(&str, Parsed)> = vec![
            ("headers: {a: b, c: d}", Ok(ab("b", "d"))),
            ("headers:\n  - name: a\n    value: b\n  - name: c\n    value: d\n", Ok(ab("b", "d"))),
            ("headers: [{name: c, value: d}, {name: a, value: b}]", Ok(ab("b", "d"))),
            // Numbers-looking values stay text when quoted, as in the map form.
            ("headers: [{name: a, value: '0123'}, {name: c, value: d}]", Ok(ab("0123", "d"))),
            ("headers:", Ok(BTreeMap::new())),
            ("headers: []", Ok(BTreeMap::new())),
            ("{}", Ok(BTreeMap::new())),
            (
                "headers: [{name: a, value: b}, {name: a, value: c}]",
                Err("field `headers`: \"a\" is listed more than once".into()),
            ),
            (
                "headers: [{name: a, val: b}]",
                Err("field `headers[0].val`: unknown field `val`, expected `name` or `value`".into()),
            ),
            (
                "headers: [{name: a}]",
                Err("field `headers[0]`: missing field `value`".into()),
            ),
            (
                "headers: foo",
                Err("field `headers`: invalid type: string (3 characters), expected a map of names to values, or a list of {name, value}".into()),
            ),
        ];
        for (y, want) in cases {
            assert_eq!(parse(y), want, "{y}");
        }
    }

    #[test]
    fn list_values_are_secrets_where_the_field_says_so() {
        let v: Value =
            crate::config::value::from_yaml("secrets: [{name: api-key, value: s3cr3t}]").unwrap();
        let c: C = crate::registry::parse_typed(&v).unwrap();
        assert_eq!(c.secrets["api-key"].expose(), "s3cr3t");
        assert_eq!(format!("{:?}", c.secrets), "{\"api-key\": [REDACTED]}");
    }
}
