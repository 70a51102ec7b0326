//! Merging several `--config` sources the way the OpenTelemetry Collector's confmap does:
//! maps merge key by key (recursively), anything else — scalars and lists — is replaced by
//! the later source. Every path remembers the source that set it last, so an error can name
//! the right file.

use super::value::Value;
use std::collections::HashMap;

/// Which source last set each path (`["exporters", "otlp", "endpoint"]`).
#[derive(Debug, Default, Clone)]
pub struct Provenance {
    paths: HashMap<Vec<String>, usize>,
    /// The source names, by index.
    pub sources: Vec<String>,
}

impl Provenance {
    /// The source that set `path` or its nearest recorded ancestor.
    pub fn source_of(&self, path: &[String]) -> Option<&str> {
        (0..=path.len())
            .rev()
            .filter_map(|n| path.get(..n))
            .find_map(|p| self.paths.get(p))
            .and_then(|&i| self.sources.get(i))
            .map(String::as_str)
    }

    fn record(&mut self, v: &Value, path: &mut Vec<String>, src: usize) {
        self.paths.insert(path.clone(), src);
        if let Value::Map(m) = v {
            for (k, child) in m {
                path.push(k.clone());
                self.record(child, path, src);
                path.pop();
            }
        }
    }
}

/// Merges `overlay` (from source `src`) into `base`.
pub fn merge(base: &mut Value, overlay: Value, src: usize, prov: &mut Provenance) {
    merge_at(base, overlay, &mut Vec::new(), src, prov);
}

fn merge_at(
    base: &mut Value,
    overlay: Value,
    path: &mut Vec<String>,
    src: usize,
    prov: &mut Provenance,
) {
    match (base, overlay) {
        (Value::Map(b), Value::Map(o)) => {
            prov.paths.entry(path.clone()).or_insert(src);
            for (k, v) in o {
                path.push(k.clone());
                if let Some(slot) = b.iter_mut().find(|(bk, _)| *bk == k) {
                    merge_at(&mut slot.1, v, path, src, prov);
                } else {
                    prov.record(&v, path, src);
                    b.push((k, v));
                }
                path.pop();
            }
        }
        (b, o) => {
            prov.record(&o, path, src);
            *b = o;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        crate::config::value::from_yaml(s).unwrap()
    }

    #[test]
    fn maps_merge_later_wins_lists_replace() {
        let mut prov = Provenance {
            sources: vec!["a.yaml".into(), "b.yaml".into()],
            ..Default::default()
        };
        let mut base = Value::Null;
        merge(
            &mut base,
            y(
                "exporters:\n  otlp:\n    endpoint: a:1\n    headers: {x: '1'}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp, zipkin]\n",
            ),
            0,
            &mut prov,
        );
        merge(
            &mut base,
            y(
                "exporters:\n  otlp:\n    headers: {y: '2'}\n    endpoint: b:2\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n",
            ),
            1,
            &mut prov,
        );
        assert_eq!(
            base,
            y(
                "exporters:\n  otlp:\n    endpoint: b:2\n    headers: {x: '1', y: '2'}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
            )
        );
        let p = |s: &str| s.split('.').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            prov.source_of(&p("exporters.otlp.endpoint")),
            Some("b.yaml")
        );
        assert_eq!(
            prov.source_of(&p("exporters.otlp.headers.x")),
            Some("a.yaml")
        );
        assert_eq!(
            prov.source_of(&p("exporters.otlp.headers.x.deeper")),
            Some("a.yaml")
        );
        assert_eq!(prov.source_of(&p("exporters.otlp.tls")), Some("a.yaml"));
    }

    #[test]
    fn a_null_overlay_replaces() {
        let mut prov = Provenance::default();
        let mut base = y("a: {b: 1}");
        merge(&mut base, y("a: ~"), 0, &mut prov);
        assert_eq!(base, y("a: ~"));
    }
}
