//! `sending_queue.batch`: requests taken from the queue are merged until they reach
//! `min_size` or their first has waited `flush_timeout`, then sent by up to `num_consumers`
//! senders at once; a batch over `max_size` is split. This is the Collector's exporter-side
//! batching, which newer configs use instead of the `batch` processor. For a persistent queue
//! every record of a batch is marked done once the batch is delivered or dropped, and none of
//! them when shutdown interrupts it (they are sent again after the next start).

use super::config::{QueueBatchConfig, Sizer};
use super::{AnyQueue, Inner, Outcome};
use crate::otlp::batching::{BatchBuilder, split};
use crate::otlp::{Batch, Signal};
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// A request taken from the queue, with its record in a persistent queue.
pub(super) struct Taken {
    batch: Batch,
    seq: Option<u64>,
}

/// What is sent together: the requests merged into one, and the records they came from.
#[derive(Debug)]
pub(super) struct Unit {
    batch: Batch,
    seqs: Vec<u64>,
}

/// Gathers requests into units by the batch settings, copying each into the open unit as it
/// arrives (the request's own buffer is freed at once, as the `batch` processor does).
pub(super) struct Accumulator {
    min: usize,
    max: usize,
    sizer: Sizer,
    open: BatchBuilder,
    seqs: Vec<u64>,
    parts: usize,
    size: usize,
}

impl Accumulator {
    pub(super) fn new(cfg: &QueueBatchConfig, signal: Signal) -> Self {
        Self {
            min: cfg.min_size,
            max: cfg.max_size,
            sizer: cfg.sizer(),
            open: BatchBuilder::new(signal),
            seqs: Vec::new(),
            parts: 0,
            size: 0,
        }
    }

    fn size_of(&self, b: &Batch) -> usize {
        match self.sizer {
            Sizer::Bytes => b.len_bytes(),
            _ => b.items(),
        }
    }

    /// Adds `t`; returns what is to be sent now: what was open, when `t` would take it past
    /// `max_size`, and the open unit once it reaches `min_size`.
    pub(super) fn add(&mut self, t: Taken) -> Vec<Unit> {
        let mut out = Vec::new();
        let s = self.size_of(&t.batch);
        if self.max > 0 && self.parts > 0 && self.size + s > self.max {
            out.extend(self.take());
        }
        // The queue holds requests of its exporter's signal only.
        if self.open.push(&t.batch).is_ok() {
            self.seqs.extend(t.seq);
            self.parts += 1;
            self.size += s;
        }
        if self.parts > 0 && self.size >= self.min {
            out.extend(self.take());
        }
        out
    }

    /// The open unit, if any.
    pub(super) fn take(&mut self) -> Option<Unit> {
        if self.parts == 0 {
            return None;
        }
        self.size = 0;
        self.parts = 0;
        Some(Unit {
            batch: self.open.take(),
            seqs: std::mem::take(&mut self.seqs),
        })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.parts == 0
    }
}

/// The requests a merged batch goes out as: split to `max_size`.
fn requests(cfg: &QueueBatchConfig, merged: &Batch) -> Vec<Batch> {
    let max = cfg.max_size;
    if max == 0 {
        return vec![merged.clone()];
    }
    let max_items = match cfg.sizer() {
        Sizer::Bytes if merged.len_bytes() > max => {
            // Split by items in proportion: the spans of one request are alike in size.
            (merged.items() * max / merged.len_bytes().max(1)).max(1)
        }
        Sizer::Bytes => return vec![merged.clone()],
        _ => max,
    };
    split(merged, max_items)
}

/// Starts the batching workers for `q`: one that takes from the queue, one that batches and
/// hands each batch to a sender task (at most `consumers` at once).
pub(super) fn spawn(
    q: Arc<AnyQueue>,
    inner: Arc<Inner>,
    cfg: QueueBatchConfig,
    consumers: usize,
    signal: Signal,
) -> Vec<JoinHandle<()>> {
    // One in hand: the taker waits while the batcher is busy, so the queue (and its limit)
    // keeps the rest.
    let (tx, mut rx) = mpsc::channel::<Taken>(1);
    let taker = {
        let (q, inner) = (q.clone(), inner.clone());
        tokio::spawn(async move {
            loop {
                let taken = match q.as_ref() {
                    AnyQueue::Memory(m) => m.pop().await.map(|batch| Taken { batch, seq: None }),
                    AnyQueue::Persistent(p) => p.pop().await.map(|p| Taken {
                        batch: p.batch,
                        seq: Some(p.seq),
                    }),
                };
                inner.set_queue_size(&q);
                let Some(taken) = taken else { break };
                if tx.send(taken).await.is_err() {
                    break;
                }
            }
        })
    };
    let batcher = tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(consumers.max(1)));
        let mut sending = JoinSet::new();
        let mut acc = Accumulator::new(&cfg, signal);
        let persistent = matches!(q.as_ref(), AnyQueue::Persistent(_));
        let dispatch = async |unit: Unit, sending: &mut JoinSet<()>| {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let Unit { batch, seqs } = unit;
            let requests = requests(&cfg, &batch);
            drop(batch);
            let (q, inner) = (q.clone(), inner.clone());
            sending.spawn(async move {
                let mut interrupted = false;
                for r in requests {
                    // Failures are counted and logged inside; the data was acknowledged.
                    if let Outcome::Interrupted = inner.send(r, persistent).await.0 {
                        interrupted = true;
                    }
                }
                if let AnyQueue::Persistent(p) = q.as_ref()
                    && !interrupted
                {
                    for seq in seqs {
                        p.done(seq);
                    }
                }
                inner.set_queue_size(&q);
                drop(permit);
            });
            while sending.try_join_next().is_some() {}
        };
        while let Some(first) = rx.recv().await {
            let mut deadline = Instant::now() + cfg.flush_timeout;
            for u in acc.add(first) {
                dispatch(u, &mut sending).await;
            }
            let mut closed = false;
            while !acc.is_empty() {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(t)) => {
                        let was_open = !acc.is_empty();
                        for u in acc.add(t) {
                            dispatch(u, &mut sending).await;
                        }
                        // A batch sent to make room: the new one waits its own timeout.
                        if was_open && acc.parts == 1 {
                            deadline = Instant::now() + cfg.flush_timeout;
                        }
                    }
                    Ok(None) => {
                        closed = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            if let Some(u) = acc.take() {
                dispatch(u, &mut sending).await;
            }
            if closed {
                break;
            }
        }
        while sending.join_next().await.is_some() {}
    });
    vec![taker, batcher]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{span_numbers, traces};

    fn cfg(min: usize, max: usize, sizer: Option<Sizer>) -> QueueBatchConfig {
        QueueBatchConfig {
            min_size: min,
            max_size: max,
            sizer,
            ..QueueBatchConfig::default()
        }
    }

    fn taken(first: u64, n: u64, seq: u64) -> Taken {
        Taken {
            batch: traces(first, n),
            seq: Some(seq),
        }
    }

    /// Each unit as (the span numbers of its requests, its records).
    fn shape(c: &QueueBatchConfig, units: Vec<Unit>) -> Vec<(Vec<Vec<u64>>, Vec<u64>)> {
        units
            .into_iter()
            .map(|u| {
                let sent = requests(c, &u.batch).iter().map(span_numbers).collect();
                (sent, u.seqs)
            })
            .collect()
    }

    #[test]
    fn requests_merge_up_to_min_size_and_split_at_max_size() {
        // (min, max, requests of n spans) → units sent as they fill, then what a flush takes.
        let c = cfg(5, 0, None);
        let mut acc = Accumulator::new(&c, Signal::Traces);
        assert!(acc.add(taken(0, 2, 1)).is_empty());
        assert!(acc.add(taken(2, 2, 2)).is_empty());
        let full = acc.add(taken(4, 3, 3));
        assert_eq!(
            shape(&c, full),
            [(vec![vec![0, 1, 2, 3, 4, 5, 6]], vec![1, 2, 3])]
        );
        assert!(acc.is_empty());
        assert!(acc.add(taken(7, 1, 4)).is_empty());
        let flushed = acc.take().into_iter().collect();
        assert_eq!(shape(&c, flushed), [(vec![vec![7]], vec![4])]);
        assert!(acc.take().is_none());

        // With a maximum: what would pass it goes first; one request over it is split.
        let c = cfg(4, 5, None);
        let mut acc = Accumulator::new(&c, Signal::Traces);
        assert!(acc.add(taken(0, 3, 1)).is_empty());
        let made_room = acc.add(taken(3, 3, 2));
        assert_eq!(shape(&c, made_room), [(vec![vec![0, 1, 2]], vec![1])]);
        let big = acc.add(taken(6, 12, 3));
        assert_eq!(
            shape(&c, big),
            [
                (vec![vec![3, 4, 5]], vec![2]),
                (
                    vec![vec![6, 7, 8, 9, 10], vec![11, 12, 13, 14, 15], vec![16, 17]],
                    vec![3]
                ),
            ]
        );
    }

    #[test]
    fn batches_measured_in_bytes() {
        let (two, one) = (traces(0, 2).len_bytes(), traces(2, 1).len_bytes());
        let c = cfg(two + one, two + one, Some(Sizer::Bytes));
        let mut acc = Accumulator::new(&c, Signal::Traces);
        assert!(acc.add(taken(0, 2, 1)).is_empty());
        let full = acc.add(taken(2, 1, 2));
        assert_eq!(shape(&c, full), [(vec![vec![0, 1, 2]], vec![1, 2])]);
        // One request over the maximum: split by items in proportion to its bytes.
        let big = traces(3, 10);
        let per_request = 10 * (two + one) / big.len_bytes();
        let units = shape(&c, acc.add(taken(3, 10, 3)));
        assert_eq!(units.len(), 1);
        let (sent, seqs) = &units[0];
        assert_eq!(seqs, &[3]);
        assert_eq!(sent.concat(), (3..13).collect::<Vec<u64>>());
        assert_eq!(sent.len(), 10usize.div_ceil(per_request), "{sent:?}");
    }
}
