//! The pprof profile format (`profile.proto` of github.com/google/pprof), as `go tool pprof`,
//! Grafana Pyroscope and speedscope read it: the messages, and a CPU profile built from
//! sampled call stacks, in the shape Go's `runtime/pprof` writes (`samples/count` and
//! `cpu/nanoseconds`, gzip-compressed).

use std::collections::HashMap;

/// `perftools.profiles.Profile`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Profile {
    /// What each sample value is.
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    /// The samples.
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    /// Code locations, referred to by id.
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    /// Functions, referred to by id.
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// Every string, referred to by index; the first is `""`.
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    /// When profiling started, in nanoseconds since the Unix epoch.
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    /// How long it ran.
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    /// What one sampling period is.
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    /// One sampling period, in `period_type` units.
    #[prost(int64, tag = "12")]
    pub period: i64,
}

/// `ValueType`: a type and a unit, as string table indexes.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct ValueType {
    /// `samples`, `cpu`.
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    /// `count`, `nanoseconds`.
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// `Sample`: one call stack and its values.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// Location ids, the leaf first.
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    /// One value per `sample_type`.
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    /// Labels (the thread's name).
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// `Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// Key, a string table index.
    #[prost(int64, tag = "1")]
    pub key: i64,
    /// String value, a string table index.
    #[prost(int64, tag = "2")]
    pub str: i64,
}

/// `Location`: one frame; several lines when functions were inlined into it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Location {
    /// Its id (from 1).
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// The instruction address.
    #[prost(uint64, tag = "3")]
    pub address: u64,
    /// The innermost inlined function first, the caller they were inlined into last.
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

/// `Line`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Line {
    /// The function's id.
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    /// Source line (0 when unknown).
    #[prost(int64, tag = "2")]
    pub line: i64,
}

/// `Function`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Function {
    /// Its id (from 1).
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Demangled name, a string table index.
    #[prost(int64, tag = "2")]
    pub name: i64,
    /// Mangled name, a string table index.
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    /// Source file, a string table index.
    #[prost(int64, tag = "4")]
    pub filename: i64,
}

/// One resolved symbol of a frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Symbol {
    /// Demangled name.
    pub name: String,
    /// Mangled name.
    pub system_name: String,
    /// Source file.
    pub filename: String,
    /// Source line (0 when unknown).
    pub line: u32,
}

/// One frame: its address and symbols, the innermost inlined one first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The instruction address.
    pub address: u64,
    /// What the address resolves to.
    pub symbols: Vec<Symbol>,
}

/// Sampled stacks (the leaf frame first), each with its thread's name and how often it was
/// seen.
pub type Stacks = Vec<(Vec<Frame>, String, u64)>;

/// Interns strings into a string table.
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        let mut s = Self::default();
        s.get("");
        s
    }

    fn get(&mut self, s: &str) -> i64 {
        if let Some(i) = self.index.get(s) {
            return *i;
        }
        let i = i64::try_from(self.table.len()).unwrap_or(i64::MAX);
        self.table.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }
}

/// A CPU profile of `stacks` sampled at `frequency` Hz, started at `time_nanos` and lasting
/// `duration_nanos`. Equal stacks of one thread are merged; functions and locations are
/// shared between samples.
pub fn cpu_profile(
    stacks: &Stacks,
    frequency: u32,
    time_nanos: i64,
    duration_nanos: i64,
) -> Profile {
    let mut strings = Strings::new();
    let period = 1_000_000_000 / i64::from(frequency.max(1));
    let samples_type = ValueType {
        r#type: strings.get("samples"),
        unit: strings.get("count"),
    };
    let cpu_type = ValueType {
        r#type: strings.get("cpu"),
        unit: strings.get("nanoseconds"),
    };
    let thread_key = strings.get("thread");

    let mut functions: HashMap<(String, String, String), u64> = HashMap::new();
    let mut function_list = Vec::new();
    let mut locations: HashMap<&Frame, u64> = HashMap::new();
    let mut location_list = Vec::new();
    let mut merged: HashMap<(Vec<u64>, i64), i64> = HashMap::new();
    let mut order = Vec::new();

    for (frames, thread, count) in stacks {
        let mut ids = Vec::with_capacity(frames.len());
        for f in frames {
            if let Some(id) = locations.get(f) {
                ids.push(*id);
                continue;
            }
            let lines = f
                .symbols
                .iter()
                .map(|s| {
                    let key = (s.name.clone(), s.system_name.clone(), s.filename.clone());
                    let function_id = match functions.get(&key) {
                        Some(id) => *id,
                        None => {
                            let id = function_list.len() as u64 + 1;
                            function_list.push(Function {
                                id,
                                name: strings.get(&s.name),
                                system_name: strings.get(&s.system_name),
                                filename: strings.get(&s.filename),
                            });
                            functions.insert(key, id);
                            id
                        }
                    };
                    Line {
                        function_id,
                        line: i64::from(s.line),
                    }
                })
                .collect();
            let id = location_list.len() as u64 + 1;
            location_list.push(Location {
                id,
                address: f.address,
                line: lines,
            });
            locations.insert(f, id);
            ids.push(id);
        }
        let key = (ids, strings.get(thread));
        let n = i64::try_from(*count).unwrap_or(i64::MAX);
        match merged.get_mut(&key) {
            Some(total) => *total = total.saturating_add(n),
            None => {
                merged.insert(key.clone(), n);
                order.push(key);
            }
        }
    }

    let sample = order
        .into_iter()
        .map(|key| {
            let n = merged.get(&key).copied().unwrap_or(0);
            let (location_id, thread) = key;
            Sample {
                location_id,
                value: vec![n, n.saturating_mul(period)],
                label: vec![Label {
                    key: thread_key,
                    str: thread,
                }],
            }
        })
        .collect();
    Profile {
        sample_type: vec![samples_type, cpu_type],
        sample,
        location: location_list,
        function: function_list,
        string_table: strings.table,
        time_nanos,
        duration_nanos,
        period_type: Some(cpu_type),
        period,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn sym(name: &str, line: u32) -> Symbol {
        Symbol {
            name: name.into(),
            system_name: format!("_ZN{name}E"),
            filename: "src/lib.rs".into(),
            line,
        }
    }

    fn frame(address: u64, symbols: Vec<Symbol>) -> Frame {
        Frame { address, symbols }
    }

    /// A sample's stack as `name:line` per frame (inlined ones joined with `<`), leaf first.
    fn stack(p: &Profile, s: &Sample) -> Vec<String> {
        s.location_id
            .iter()
            .map(|id| {
                let loc = p.location.iter().find(|l| l.id == *id).unwrap();
                loc.line
                    .iter()
                    .map(|l| {
                        let f = p.function.iter().find(|f| f.id == l.function_id).unwrap();
                        format!("{}:{}", p.string_table[f.name as usize], l.line)
                    })
                    .collect::<Vec<_>>()
                    .join("<")
            })
            .collect()
    }

    #[test]
    fn stacks_become_a_go_style_cpu_profile() {
        let leaf = frame(0x10, vec![sym("encode", 7), sym("export", 40)]);
        let main = frame(0x20, vec![sym("main", 3)]);
        let other = frame(0x30, vec![sym("decode", 9)]);
        let stacks: Stacks = vec![
            (
                vec![leaf.clone(), main.clone()],
                "tokio-runtime-worker".into(),
                3,
            ),
            (vec![other, main.clone()], "tokio-runtime-worker".into(), 1),
            (vec![leaf, main], "tokio-runtime-worker".into(), 2),
            (vec![], "meshtrace-collector".into(), 1),
        ];
        let p = cpu_profile(&stacks, 100, 1_700_000_000_000_000_000, 2_000_000_000);
        let p = Profile::decode(p.encode_to_vec().as_slice()).unwrap();

        assert_eq!(p.string_table[0], "");
        let s = |i: i64| p.string_table[i as usize].as_str();
        let types: Vec<(&str, &str)> = p
            .sample_type
            .iter()
            .map(|t| (s(t.r#type), s(t.unit)))
            .collect();
        assert_eq!(types, [("samples", "count"), ("cpu", "nanoseconds")]);
        let pt = p.period_type.unwrap();
        assert_eq!(
            (s(pt.r#type), s(pt.unit), p.period),
            ("cpu", "nanoseconds", 10_000_000)
        );
        assert_eq!(
            (p.time_nanos, p.duration_nanos),
            (1_700_000_000_000_000_000, 2_000_000_000)
        );

        let got: Vec<(Vec<String>, Vec<i64>, &str)> = p
            .sample
            .iter()
            .map(|x| (stack(&p, x), x.value.clone(), s(x.label[0].str)))
            .collect();
        assert_eq!(
            got,
            [
                (
                    vec!["encode:7<export:40".into(), "main:3".into()],
                    vec![5, 50_000_000],
                    "tokio-runtime-worker"
                ),
                (
                    vec!["decode:9".into(), "main:3".into()],
                    vec![1, 10_000_000],
                    "tokio-runtime-worker"
                ),
                (vec![], vec![1, 10_000_000], "meshtrace-collector"),
            ]
        );
        assert!(p.sample.iter().all(|x| s(x.label[0].key) == "thread"));
        // Shared: main is one location and one function; four functions in all.
        assert_eq!(p.location.len(), 3);
        assert_eq!(p.function.len(), 4);
        let main_fn = p.function.iter().find(|f| s(f.name) == "main").unwrap();
        assert_eq!(
            (s(main_fn.system_name), s(main_fn.filename)),
            ("_ZNmainE", "src/lib.rs")
        );
        // Every string once.
        let mut sorted = p.string_table.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), p.string_table.len());
    }

    #[test]
    fn the_same_stack_on_two_threads_stays_two_samples() {
        let f = frame(1, vec![sym("poll", 1)]);
        let stacks: Stacks = vec![(vec![f.clone()], "a".into(), 1), (vec![f], "b".into(), 1)];
        let p = cpu_profile(&stacks, 99, 0, 0);
        assert_eq!(p.sample.len(), 2);
        assert_eq!(p.location.len(), 1);
        assert_eq!(p.period, 10_101_010);
    }
}
