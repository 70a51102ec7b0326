//! How connectors join pipelines: which uses of a connector are valid, and the order pipelines
//! are built and stopped in. Pipeline A feeds pipeline B when a connector is an exporter of A
//! and a receiver of B, for a pair of signals it supports. Those edges must not close a cycle
//! (data would go round for ever); the Collector refuses the same configs with the same
//! messages.

use super::error::ConfigError;
use super::resolve::ResolvedPipeline;
use crate::component::ComponentId;
use crate::otlp::Signal;
use std::collections::BTreeMap;

/// The (signal taken, signal emitted) pairs each configured connector joins.
pub(super) type ConnectorSignals = BTreeMap<String, &'static [(Signal, Signal)]>;

/// What [`check`] found.
pub(super) struct Joined {
    /// Errors, each about one connector (`connectors::ID`) or about a cycle.
    pub errors: Vec<(String, ConfigError)>,
    /// Indexes into the pipelines, each before every pipeline it feeds (empty when there is a
    /// cycle).
    pub order: Vec<usize>,
}

fn supports(joins: &[(Signal, Signal)], from: Signal, to: Signal) -> bool {
    joins.contains(&(from, to))
}

/// Per connector id, the pipelines its config names, each with the field naming it.
pub(super) type NamedPipelines = BTreeMap<String, Vec<(String, String)>>;

/// Checks every connector's uses in `pipelines` and the pipelines their configs name, and
/// orders the pipelines.
pub(super) fn check(
    pipelines: &[ResolvedPipeline],
    connectors: &ConnectorSignals,
    named: &NamedPipelines,
) -> Joined {
    let is_connector = |id: &ComponentId| connectors.get(&id.to_string()).copied();
    let mut errors = Vec::new();

    for (id, list) in named {
        for (field, name) in list {
            let reason = match pipelines.iter().find(|p| p.id.to_string() == *name) {
                None => format!("pipeline {name:?} is not configured under service.pipelines"),
                Some(p) if !p.receivers.iter().any(|r| r.to_string() == *id) => format!(
                    "pipeline {name:?} does not receive from connector {id:?} (list it under \
                     the pipeline's receivers)"
                ),
                Some(_) => continue,
            };
            errors.push((
                format!("connectors::{id}"),
                ConfigError::new(reason).field(field.clone()),
            ));
        }
    }

    // Per connector, the pipelines using it as an exporter and as a receiver, in config order.
    let mut uses: BTreeMap<String, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (i, p) in pipelines.iter().enumerate() {
        for id in p.exporters.iter().filter(|id| is_connector(id).is_some()) {
            uses.entry(id.to_string()).or_default().0.push(i);
        }
        for id in p.receivers.iter().filter(|id| is_connector(id).is_some()) {
            uses.entry(id.to_string()).or_default().1.push(i);
        }
    }
    for (id, (as_exporter, as_receiver)) in &uses {
        let signals = connectors.get(id).copied().unwrap_or(&[]);
        let signal = |i: &usize| pipelines.get(*i).map(|p| p.id.signal);
        let unmatched = |side: &[usize], other: &[usize], exporting: bool| {
            let mut bad: Vec<Signal> = Vec::new();
            for s in side.iter().filter_map(signal) {
                let ok = other.iter().filter_map(signal).any(|o| {
                    if exporting {
                        supports(signals, s, o)
                    } else {
                        supports(signals, o, s)
                    }
                });
                if !ok && !bad.contains(&s) {
                    bad.push(s);
                }
            }
            // As the Collector prints them: the pipelines of that signal, in brackets.
            bad.into_iter()
                .map(|s| {
                    side.iter()
                        .filter_map(|i| pipelines.get(*i))
                        .filter(|p| p.id.signal == s)
                        .map(|p| p.id.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
        };
        for (side, other, exporting, (used_as, missing)) in [
            (as_exporter, as_receiver, true, ("exporter", "receiver")),
            (as_receiver, as_exporter, false, ("receiver", "exporter")),
        ] {
            for names in unmatched(side, other, exporting) {
                errors.push((
                    format!("connectors::{id}"),
                    ConfigError::new(format!(
                        "connector {id:?} used as {used_as} in [{names}] pipeline but not used \
                         in any supported {missing} pipeline"
                    )),
                ));
            }
        }
    }

    // Edges: (from pipeline, to pipeline, connector id).
    let mut next: Vec<Vec<(usize, &ComponentId)>> = vec![Vec::new(); pipelines.len()];
    for (a, pa) in pipelines.iter().enumerate() {
        for c in &pa.exporters {
            let Some(signals) = is_connector(c) else {
                continue;
            };
            for (b, pb) in pipelines.iter().enumerate() {
                if pb.receivers.contains(c)
                    && supports(signals, pa.id.signal, pb.id.signal)
                    && let Some(list) = next.get_mut(a)
                {
                    list.push((b, c));
                }
            }
        }
    }

    match order(&next) {
        Ok(order) => Joined { errors, order },
        Err(cycle) => {
            errors.push(("service::pipelines".into(), cycle_error(pipelines, &cycle)));
            Joined {
                errors,
                order: Vec::new(),
            }
        }
    }
}

/// A cycle: the pipelines in it, each with the connector that leads into the next one (the
/// last one's leads into the first).
type Cycle<'a> = Vec<(usize, &'a ComponentId)>;

/// The pipelines in topological order (upstream first), or the first cycle found.
fn order<'a>(next: &[Vec<(usize, &'a ComponentId)>]) -> Result<Vec<usize>, Cycle<'a>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let n = next.len();
    let mut mark = vec![Mark::New; n];
    let mut post = Vec::with_capacity(n);
    // Depth-first, iteratively; `path` holds (pipeline, index of its next edge to try,
    // connector of the edge taken into it from the previous entry).
    for root in 0..n {
        if mark.get(root) != Some(&Mark::New) {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        let mut via: Vec<&ComponentId> = Vec::new();
        if let Some(m) = mark.get_mut(root) {
            *m = Mark::Open;
        }
        while let Some((node, edge)) = path.last().copied() {
            let Some(&(to, conn)) = next.get(node).and_then(|e| e.get(edge)) else {
                if let Some(m) = mark.get_mut(node) {
                    *m = Mark::Done;
                }
                post.push(node);
                path.pop();
                via.pop();
                continue;
            };
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            match mark.get(to).copied() {
                Some(Mark::New) => {
                    if let Some(m) = mark.get_mut(to) {
                        *m = Mark::Open;
                    }
                    path.push((to, 0));
                    via.push(conn);
                }
                Some(Mark::Open) => {
                    // `via[k]` leads from path[k] into path[k + 1]; the closing edge from the
                    // last entry back to `to`.
                    let start = path.iter().position(|(p, _)| *p == to).unwrap_or(0);
                    let mut cycle: Cycle<'a> = Vec::new();
                    for k in start..path.len() {
                        let lead = via.get(k).copied().unwrap_or(conn);
                        if let Some((p, _)) = path.get(k) {
                            cycle.push((*p, lead));
                        }
                    }
                    return Err(cycle);
                }
                _ => {}
            }
        }
    }
    post.reverse();
    Ok(post)
}

/// The Collector's message: from a connector round to it again, naming every processor on
/// the way (`cycle detected: connector "forward" (traces to traces) -> processor "batch" in
/// pipeline "traces/b" -> connector "forward" (traces to traces)`).
fn cycle_error(pipelines: &[ResolvedPipeline], cycle: &Cycle<'_>) -> ConfigError {
    let signal = |i: usize| {
        pipelines
            .get(i)
            .map_or("traces", |p| crate::signal_name(p.id.signal))
    };
    let mut parts = Vec::new();
    let n = cycle.len();
    // Start at the connector leading into the cycle's first pipeline.
    for k in 0..=n {
        let into = (k + n - 1) % n;
        if let (Some((from, conn)), Some((to, _))) = (cycle.get(into), cycle.get(k % n)) {
            parts.push(format!(
                "connector {:?} ({} to {})",
                conn.to_string(),
                signal(*from),
                signal(*to)
            ));
            if k == n {
                break;
            }
            if let Some(p) = pipelines.get(*to) {
                for proc in &p.processors {
                    parts.push(format!(
                        "processor {:?} in pipeline {:?}",
                        proc.to_string(),
                        p.id.to_string()
                    ));
                }
            }
        }
    }
    ConfigError::new(format!("cycle detected: {}", parts.join(" -> ")))
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // adjacency matrices read best indexed
mod tests {
    use super::*;
    use crate::config::PipelineId;
    use proptest::prelude::*;

    const SAME: &[(Signal, Signal)] = &[
        (Signal::Traces, Signal::Traces),
        (Signal::Metrics, Signal::Metrics),
        (Signal::Logs, Signal::Logs),
    ];

    fn id(s: &str) -> ComponentId {
        ComponentId::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Pipeline `i` of `signal` receiving from and exporting to the connectors `c<k>` listed.
    fn pipeline(i: usize, signal: &str, from: &[usize], to: &[usize]) -> ResolvedPipeline {
        let conn = |k: &usize| id(&format!("forward/c{k}"));
        ResolvedPipeline {
            id: PipelineId::parse(&format!("{signal}/p{i}")).unwrap_or_else(|e| panic!("{e}")),
            receivers: std::iter::once(id("otlp"))
                .chain(from.iter().map(conn))
                .collect(),
            processors: vec![id(&format!("batch/b{i}"))],
            exporters: std::iter::once(id("debug"))
                .chain(to.iter().map(conn))
                .collect(),
        }
    }

    fn connectors(n: usize) -> ConnectorSignals {
        (0..n).map(|k| (format!("forward/c{k}"), SAME)).collect()
    }

    fn messages(j: &Joined) -> Vec<String> {
        j.errors
            .iter()
            .map(|(c, e)| format!("{c}: {}", e.reason))
            .collect()
    }

    #[test]
    fn uses_and_cycles_are_reported_as_the_collector_does() {
        let cases: &[(&[ResolvedPipeline], &[&str])] = &[
            (
                &[
                    pipeline(0, "traces", &[], &[0]),
                    pipeline(1, "traces", &[0], &[]),
                ],
                &[],
            ),
            (
                &[
                    pipeline(0, "traces", &[], &[0]),
                    pipeline(1, "traces", &[], &[]),
                ],
                &[
                    "connectors::forward/c0: connector \"forward/c0\" used as exporter in [traces/p0] pipeline but not used in any supported receiver pipeline",
                ],
            ),
            (
                &[
                    pipeline(0, "logs", &[0], &[]),
                    pipeline(1, "logs", &[0], &[]),
                ],
                &[
                    "connectors::forward/c0: connector \"forward/c0\" used as receiver in [logs/p0 logs/p1] pipeline but not used in any supported exporter pipeline",
                ],
            ),
            // One valid use does not excuse another: the metrics pipeline has no metrics
            // exporting into it.
            (
                &[
                    pipeline(0, "traces", &[], &[0]),
                    pipeline(1, "metrics", &[0], &[]),
                    pipeline(2, "traces", &[0], &[]),
                ],
                &[
                    "connectors::forward/c0: connector \"forward/c0\" used as receiver in [metrics/p1] pipeline but not used in any supported exporter pipeline",
                ],
            ),
            (
                &[
                    pipeline(0, "traces", &[], &[0]),
                    pipeline(1, "metrics", &[0], &[]),
                ],
                &[
                    "connectors::forward/c0: connector \"forward/c0\" used as exporter in [traces/p0] pipeline but not used in any supported receiver pipeline",
                    "connectors::forward/c0: connector \"forward/c0\" used as receiver in [metrics/p1] pipeline but not used in any supported exporter pipeline",
                ],
            ),
            (
                &[
                    pipeline(0, "traces", &[], &[0]),
                    pipeline(1, "traces", &[0, 2], &[1]),
                    pipeline(2, "traces", &[1], &[2]),
                ],
                &[
                    "service::pipelines: cycle detected: connector \"forward/c2\" (traces to traces) -> processor \"batch/b1\" in pipeline \"traces/p1\" -> connector \"forward/c1\" (traces to traces) -> processor \"batch/b2\" in pipeline \"traces/p2\" -> connector \"forward/c2\" (traces to traces)",
                ],
            ),
        ];
        for (pipelines, want) in cases {
            let joined = check(pipelines, &connectors(3), &NamedPipelines::new());
            assert_eq!(messages(&joined), *want, "{pipelines:?}");
            assert_eq!(
                joined.order.is_empty(),
                want.iter().any(|w| w.contains("cycle"))
            );
        }
        let joined = check(
            &[
                pipeline(0, "traces", &[], &[0]),
                pipeline(1, "traces", &[0], &[]),
            ],
            &connectors(1),
            &NamedPipelines::new(),
        );
        assert_eq!(joined.order, [0, 1]);
        let joined = check(
            &[
                pipeline(0, "traces", &[0], &[]),
                pipeline(1, "traces", &[], &[0]),
            ],
            &connectors(1),
            &NamedPipelines::new(),
        );
        assert_eq!(joined.order, [1, 0]);
    }

    proptest! {
        /// Random graphs of traces pipelines over three connectors: either an order in which
        /// every pipeline comes before those it feeds, or a cycle whose every step is an edge;
        /// and a cycle is reported exactly when one exists.
        #[test]
        fn pipelines_are_ordered_or_a_real_cycle_is_named(
            uses in proptest::collection::vec(
                (proptest::collection::vec(0usize..3, 0..3), proptest::collection::vec(0usize..3, 0..3)),
                1..7,
            )
        ) {
            let pipelines: Vec<ResolvedPipeline> = uses
                .iter()
                .enumerate()
                .map(|(i, (from, to))| {
                    let mut from = from.clone();
                    let mut to = to.clone();
                    from.sort_unstable();
                    from.dedup();
                    to.sort_unstable();
                    to.dedup();
                    pipeline(i, "traces", &from, &to)
                })
                .collect();
            let n = pipelines.len();
            let edge = |a: usize, b: usize| {
                pipelines[a]
                    .exporters
                    .iter()
                    .any(|c| c.type_name() == "forward" && pipelines[b].receivers.contains(c))
            };
            // Reachability, to know whether a cycle exists.
            let mut reach = vec![vec![false; n]; n];
            for a in 0..n {
                for b in 0..n {
                    reach[a][b] = edge(a, b);
                }
            }
            for k in 0..n {
                for a in 0..n {
                    for b in 0..n {
                        reach[a][b] = reach[a][b] || (reach[a][k] && reach[k][b]);
                    }
                }
            }
            let cyclic = (0..n).any(|a| reach[a][a]);
            let joined = check(&pipelines, &connectors(3), &NamedPipelines::new());
            let reported = messages(&joined).iter().any(|m| m.contains("cycle detected"));
            prop_assert_eq!(reported, cyclic);
            if cyclic {
                prop_assert!(joined.order.is_empty());
                let mut next = vec![Vec::new(); n];
                for a in 0..n {
                    for c in &pipelines[a].exporters {
                        for b in 0..n {
                            if c.type_name() == "forward" && pipelines[b].receivers.contains(c) {
                                next[a].push((b, c));
                            }
                        }
                    }
                }
                let cycle = order(&next).err().unwrap_or_default();
                prop_assert!(!cycle.is_empty());
                for (k, (p, conn)) in cycle.iter().enumerate() {
                    let (q, _) = cycle[(k + 1) % cycle.len()];
                    prop_assert!(pipelines[*p].exporters.contains(conn));
                    prop_assert!(pipelines[q].receivers.contains(conn));
                }
            } else {
                let mut sorted = joined.order.clone();
                sorted.sort_unstable();
                prop_assert_eq!(sorted, (0..n).collect::<Vec<_>>());
                let pos = |p: usize| joined.order.iter().position(|x| *x == p);
                for a in 0..n {
                    for b in 0..n {
                        if edge(a, b) {
                            prop_assert!(pos(a) < pos(b), "{} feeds {}: {:?}", a, b, joined.order);
                        }
                    }
                }
            }
        }
    }
}
