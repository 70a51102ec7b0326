//! Batching without decoding: [`concat()`] merges requests by concatenating their bytes;
//! [`split`] cuts a request into requests of at most N items.
//!
//! An `Export*ServiceRequest` is `repeated Resource* resource_* = 1`, so the concatenation
//! of encoded requests is the encoding of one request holding all their resources, in order.
//!
//! [`split`] works at item granularity, like the OpenTelemetry Collector's batch processor:
//! spans for traces, log records for logs, data points for metrics. Every output request
//! carries each item's resource and scope (and, for metrics, its metric's name, description,
//! unit, metadata, temporality and monotonicity): those header fields are copied verbatim,
//! items are copied as raw records, and only the length prefixes of the enclosing messages
//! are re-encoded. A metric whose data points do not fit in the current request is split
//! across requests, each part a copy of the metric with a subset of its points, exactly as
//! the collector's batch processor does, so `max_items` is a hard cap on every signal.
//! Resources, scopes and metrics that hold no items at all are kept, in the request where
//! their position falls. Unknown top-level fields (none exist in OTLP today) go with the
//! first request.

use std::borrow::Borrow;
use std::ops::Range;

use bytes::{Bytes, BytesMut};

use crate::wire::{Fields, Val, len_field_size, put_len_field, put_len_header};
use crate::{Batch, Signal};

/// Concatenates requests of `signal` into one. Parts of another signal are skipped (mixing
/// signals is a programming error; use [`BatchBuilder`] to get it reported). A single
/// non-empty part is returned without copying.
pub fn concat<I, B>(signal: Signal, parts: I) -> Batch
where
    I: IntoIterator<Item = B>,
    I::IntoIter: Clone,
    B: Borrow<Batch>,
{
    let parts = parts.into_iter();
    let mine = parts
        .clone()
        .filter(|b| b.borrow().signal() == signal && !b.borrow().is_empty());
    let (mut count, mut len, mut items) = (0usize, 0usize, 0usize);
    let mut only = None;
    for b in mine.clone() {
        let b = b.borrow();
        count += 1;
        len += b.len_bytes();
        items += b.items();
        only = Some(b.clone());
    }
    match (count, only) {
        (0, _) => Batch::empty(signal),
        (1, Some(b)) => b,
        _ => {
            let mut out = BytesMut::with_capacity(len);
            for b in mine {
                out.extend_from_slice(b.borrow().bytes());
            }
            Batch::from_trusted(signal, out.freeze(), items)
        }
    }
}

/// The two signals given to [`BatchBuilder::push`] differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot add a {got} batch to a {want} batch")]
pub struct SignalMismatch {
    /// The builder's signal.
    pub want: Signal,
    /// The pushed batch's signal.
    pub got: Signal,
}

/// Accumulates batches of one signal into one request, for a batch processor: push until
/// [`items`](Self::items) or [`len_bytes`](Self::len_bytes) reaches the send size, then
/// [`take`](Self::take).
#[derive(Debug)]
pub struct BatchBuilder {
    signal: Signal,
    buf: BytesMut,
    items: usize,
}

impl BatchBuilder {
    /// An empty builder for `signal`.
    pub fn new(signal: Signal) -> Self {
        BatchBuilder {
            signal,
            buf: BytesMut::new(),
            items: 0,
        }
    }

    /// Appends a batch (a copy of its bytes).
    pub fn push(&mut self, batch: &Batch) -> Result<(), SignalMismatch> {
        if batch.signal() != self.signal {
            return Err(SignalMismatch {
                want: self.signal,
                got: batch.signal(),
            });
        }
        self.buf.extend_from_slice(batch.bytes());
        self.items += batch.items();
        Ok(())
    }

    /// Items accumulated so far.
    pub fn items(&self) -> usize {
        self.items
    }

    /// Bytes accumulated so far.
    pub fn len_bytes(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing has been pushed since the last take.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The accumulated request; the builder starts over empty.
    pub fn take(&mut self) -> Batch {
        let bytes = self.buf.split().freeze();
        let items = std::mem::take(&mut self.items);
        Batch::from_trusted(self.signal, bytes, items)
    }
}

/// Splits `batch` into requests of at most `max_items` items each, in order. Returns the
/// batch itself (no copy) when it already fits or when `max_items` is 0 (no limit).
pub fn split(batch: &Batch, max_items: usize) -> Vec<Batch> {
    if max_items == 0 || batch.items() <= max_items {
        return vec![batch.clone()];
    }
    let index = Index::build(batch.signal(), batch.bytes());
    let total = index.leaves.len();
    let mut sizes = vec![0usize; index.nodes.len()];
    let mut out = Vec::with_capacity(total.div_ceil(max_items));
    let mut lo = 0;
    while lo < total {
        let hi = (lo + max_items).min(total);
        let chunk = Chunk { lo, hi, total };
        let size = index.size(0, chunk, &mut sizes);
        let mut buf = Vec::with_capacity(size);
        index.write(0, chunk, &sizes, batch.bytes(), &mut buf);
        out.push(Batch::from_trusted(
            batch.signal(),
            Bytes::from(buf),
            hi - lo,
        ));
        lo = hi;
    }
    out
}

/// Distributes the resource groups of `batch` (`ResourceSpans`, `ResourceMetrics`,
/// `ResourceLogs`) among `outputs` requests: `route` reads each group's encoded message and
/// names the output it goes to, or `None` to drop it. Each output keeps its groups in order,
/// each copied once; an output that gets every group is `batch` itself, not a copy. Unknown
/// top-level fields (none exist in OTLP today) are dropped with a split request.
pub fn partition_resources(
    batch: &Batch,
    outputs: usize,
    mut route: impl FnMut(&[u8]) -> Option<usize>,
) -> Vec<Batch> {
    let signal = batch.signal();
    let mut dest: Vec<(Option<usize>, &[u8])> = Vec::new();
    let mut other_fields = false;
    for f in Fields::ok(batch.bytes()) {
        match f.val {
            Val::Len(group) if f.num == 1 => {
                dest.push((route(group).filter(|o| *o < outputs), group));
            }
            _ => other_fields = true,
        }
    }
    let mut out = vec![Batch::empty(signal); outputs];
    let first = dest.first().and_then(|(d, _)| *d);
    if let Some(all) = first
        && !other_fields
        && dest.iter().all(|(d, _)| *d == Some(all))
    {
        if let Some(slot) = out.get_mut(all) {
            *slot = batch.clone();
        }
        return out;
    }
    for (o, slot) in out.iter_mut().enumerate() {
        let mine = || dest.iter().filter(move |(d, _)| *d == Some(o));
        let size: usize = mine().map(|(_, g)| len_field_size(1, g.len())).sum();
        if size == 0 {
            continue;
        }
        let mut buf = Vec::with_capacity(size);
        let mut items = 0;
        for (_, group) in mine() {
            put_len_field(&mut buf, 1, group);
            items += count_group_items(signal, group);
        }
        *slot = Batch::from_trusted(signal, Bytes::from(buf), items);
    }
    out
}

/// Distributes the items of `batch` (spans, log records, metric data points) among `outputs`
/// requests: `route` is called once per item, in order, with the encoded messages that hold
/// it (outermost first: for a span, its `ResourceSpans` and `ScopeSpans`; for a data point,
/// its `ResourceMetrics`, `ScopeMetrics`, `Metric` and the metric's data message) and the
/// item's own encoded message, and names the output it goes to, or `None` to drop it.
///
/// Each output carries its items' resources and scopes (and metrics) as [`split`] does, with
/// the items in their original order; containers that hold none of an output's items are left
/// out of it, and so are containers without items. An output that gets every item is `batch`
/// itself, not a copy. Costs one pass to index the request and one copy per item.
pub fn partition_items(
    batch: &Batch,
    outputs: usize,
    mut route: impl FnMut(&[&[u8]], &[u8]) -> Option<usize>,
) -> Vec<Batch> {
    let signal = batch.signal();
    let src = batch.bytes();
    let index = Index::build(signal, src);
    // Each item's output (`usize::MAX`: dropped), then the items of each output side by side.
    let mut dest: Vec<usize> = Vec::with_capacity(index.leaves.len());
    // The containers above the current node: where each ends (a node index) and its body.
    let mut ends: Vec<usize> = Vec::new();
    let mut bodies: Vec<&[u8]> = Vec::new();
    for (i, n) in index.nodes.iter().enumerate() {
        while ends.last().is_some_and(|&end| end <= i) {
            ends.pop();
            bodies.pop();
        }
        if i == 0 {
            // The request itself is no item's container worth naming.
            continue;
        }
        ends.push(n.end);
        bodies.push(src.get(n.body.clone()).unwrap_or(&[]));
        if !n.leaf_parent {
            continue;
        }
        for leaf in n.leaves.clone() {
            let item = index
                .leaf_data
                .get(leaf)
                .zip(index.leaves.get(leaf))
                .and_then(|(&start, record)| src.get(start..record.end))
                .unwrap_or(&[]);
            dest.push(
                route(&bodies, item)
                    .filter(|&o| o < outputs)
                    .unwrap_or(usize::MAX),
            );
        }
    }
    // A counting sort: `starts[o]..starts[o + 1]` of `order` are output o's items, in order.
    let mut starts = vec![0usize; outputs + 1];
    for &o in &dest {
        if let Some(c) = starts.get_mut(o.wrapping_add(1)) {
            *c += 1;
        }
    }
    for o in 0..outputs {
        let before = starts.get(o).copied().unwrap_or(0);
        if let Some(c) = starts.get_mut(o + 1) {
            *c += before;
        }
    }
    let mut fill = starts.clone();
    let mut order = vec![0usize; starts.last().copied().unwrap_or(0)];
    for (leaf, &o) in dest.iter().enumerate() {
        if let Some(at) = fill.get_mut(o)
            && let Some(slot) = order.get_mut(*at)
        {
            *slot = leaf;
            *at += 1;
        }
    }
    let total = index.leaves.len();
    let mut scratch = Scratch {
        sizes: vec![0usize; index.nodes.len()],
        ..Scratch::default()
    };
    starts
        .windows(2)
        .map(|w| {
            let leaves = match w {
                [a, b] => order.get(*a..*b).unwrap_or(&[]),
                _ => &[],
            };
            if leaves.is_empty() {
                return Batch::empty(signal);
            }
            if leaves.len() == total {
                return batch.clone();
            }
            let buf = index.pick(leaves, src, &mut scratch);
            Batch::from_trusted(signal, Bytes::from(buf), leaves.len())
        })
        .collect()
}

/// Buffers [`Index::pick`] reuses from one output to the next.
#[derive(Default)]
struct Scratch {
    /// Body size per node.
    sizes: Vec<usize>,
    /// The containers the walk is in, with their body size so far.
    path: Vec<(usize, usize)>,
    /// Containers to enter, innermost first.
    chain: Vec<usize>,
}

/// Child field numbers at each nesting level, from the request root down to the messages
/// whose children are the items.
fn levels(signal: Signal) -> &'static [&'static [u32]] {
    match signal {
        // request → ResourceSpans.scope_spans → ScopeSpans.spans
        Signal::Traces | Signal::Logs => &[&[1], &[2], &[2]],
        // request → ResourceMetrics → ScopeMetrics → Metric.{gauge,sum,…} → *.data_points
        Signal::Metrics => &[&[1], &[2], &[2], &[5, 7, 9, 10, 11], &[1]],
    }
}

/// The nesting level of `Metric`, whose data fields are a oneof.
const METRIC_LEVEL: usize = 3;

/// Items in one encoded resource group (`ResourceSpans`, `ResourceMetrics`, `ResourceLogs`)
/// of a valid request, counted as [`crate::validate`] counts them.
pub(crate) fn count_group_items(signal: Signal, group: &[u8]) -> usize {
    count_items(levels(signal), group, 1)
}

fn count_items(levels: &[&[u32]], buf: &[u8], level: usize) -> usize {
    let children: &[u32] = levels.get(level).copied().unwrap_or(&[]);
    let leaf_parent = level + 1 == levels.len();
    let mut total = 0;
    let mut kind = 0;
    for f in Fields::ok(buf) {
        let Val::Len(body) = f.val else { continue };
        if !children.contains(&f.num) {
            continue;
        }
        let n = if leaf_parent {
            1
        } else {
            count_items(levels, body, level + 1)
        };
        if level == METRIC_LEVEL && f.num != kind {
            // A different oneof member replaces the earlier ones.
            kind = f.num;
            total = n;
        } else {
            total += n;
        }
    }
    total
}

/// A container message (the request, a resource, a scope, a metric, …) in pre-order.
#[derive(Debug, Clone)]
struct Node {
    /// Field number under which the parent holds this container.
    field: u32,
    /// Where its encoded body lies in the request.
    body: Range<usize>,
    /// The container holding it (the request's own is 0).
    parent: usize,
    /// Non-child fields, as ranges into [`Index::segs`]: copied verbatim.
    header: Range<usize>,
    /// Index of the first node after this subtree.
    end: usize,
    /// Items in this subtree, as a range of [`Index::leaves`].
    leaves: Range<usize>,
    /// True when this container's children are items.
    leaf_parent: bool,
}

/// Where every container and item sits in the request: built in one pass, then used to
/// write each output request with one copy per item.
#[derive(Debug, Default)]
struct Index {
    nodes: Vec<Node>,
    /// Byte ranges of header fields.
    segs: Vec<Range<usize>>,
    /// Byte ranges of whole item records (tag, length, payload).
    leaves: Vec<Range<usize>>,
    /// Where each item's payload starts (past its tag and length).
    leaf_data: Vec<usize>,
    /// The container each item is in.
    leaf_node: Vec<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Chunk {
    lo: usize,
    hi: usize,
    total: usize,
}

impl Chunk {
    fn includes(&self, leaves: &Range<usize>) -> bool {
        if leaves.is_empty() {
            // An item-less container goes where its position falls.
            leaves.start >= self.lo
                && (leaves.start < self.hi || (self.hi == self.total && leaves.start == self.total))
        } else {
            leaves.start < self.hi && leaves.end > self.lo
        }
    }
}

impl Index {
    fn build(signal: Signal, buf: &[u8]) -> Index {
        let mut ix = Index::default();
        ix.container(levels(signal), buf, 0, 0, 0, 0);
        ix
    }

    fn container(
        &mut self,
        levels: &[&[u32]],
        buf: &[u8],
        base: usize,
        level: usize,
        field: u32,
        parent: usize,
    ) {
        let children: &[u32] = levels.get(level).copied().unwrap_or(&[]);
        let leaf_parent = level + 1 == levels.len();
        // Pass 1: header segments, merged when adjacent. For a metric, also where the
        // effective oneof member starts: earlier data fields are dropped, as decoders do.
        let header_start = self.segs.len();
        let mut effective_from = 0usize;
        let mut kind = 0u32;
        for f in Fields::ok(buf) {
            let is_child = children.contains(&f.num) && matches!(f.val, Val::Len(_));
            if is_child {
                if level == METRIC_LEVEL && f.num != kind {
                    kind = f.num;
                    effective_from = f.start;
                }
                continue;
            }
            let rec = base + f.start..base + f.end;
            let mine = self.segs.len() > header_start;
            match self.segs.last_mut() {
                Some(last) if mine && last.end == rec.start => last.end = rec.end,
                _ => self.segs.push(rec),
            }
        }
        let me = self.nodes.len();
        let first_leaf = self.leaves.len();
        self.nodes.push(Node {
            field,
            body: base..base + buf.len(),
            parent,
            header: header_start..self.segs.len(),
            end: me + 1,
            leaves: first_leaf..first_leaf,
            leaf_parent,
        });
        // Pass 2: children.
        for f in Fields::ok(buf) {
            let Val::Len(body) = f.val else { continue };
            if !children.contains(&f.num) || (level == METRIC_LEVEL && f.start < effective_from) {
                continue;
            }
            if leaf_parent {
                self.leaves.push(base + f.start..base + f.end);
                self.leaf_data.push(base + f.data_start());
                self.leaf_node.push(me);
            } else {
                self.container(levels, body, base + f.data_start(), level + 1, f.num, me);
            }
        }
        let (end, leaves_end) = (self.nodes.len(), self.leaves.len());
        if let Some(n) = self.nodes.get_mut(me) {
            n.end = end;
            n.leaves.end = leaves_end;
        }
    }

    fn header_len(&self, n: &Node) -> usize {
        self.segs
            .get(n.header.clone())
            .map_or(0, |s| s.iter().map(|r| r.len()).sum())
    }

    /// Indices of the direct children of node `i`.
    fn children(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let end = self.nodes.get(i).map_or(i, |n| n.end);
        let mut j = i + 1;
        std::iter::from_fn(move || {
            if j >= end {
                return None;
            }
            let cur = j;
            j = self.nodes.get(j).map_or(end, |n| n.end);
            Some(cur)
        })
    }

    /// Leaf records of leaf-parent `n` that fall in the chunk.
    fn leaves_in(&self, n: &Node, c: Chunk) -> &[Range<usize>] {
        let a = n.leaves.start.max(c.lo);
        let b = n.leaves.end.min(c.hi);
        if a < b {
            self.leaves.get(a..b).unwrap_or(&[])
        } else {
            &[]
        }
    }

    /// Body size of node `i` restricted to the chunk; records it (and its descendants') in
    /// `sizes` for [`Index::write`].
    fn size(&self, i: usize, c: Chunk, sizes: &mut [usize]) -> usize {
        let Some(n) = self.nodes.get(i) else { return 0 };
        let mut size = if i == 0 && c.lo != 0 {
            0
        } else {
            self.header_len(n)
        };
        if n.leaf_parent {
            size += self.leaves_in(n, c).iter().map(|r| r.len()).sum::<usize>();
        } else {
            for j in self.children(i) {
                let Some(child) = self.nodes.get(j) else {
                    continue;
                };
                if c.includes(&child.leaves) {
                    size += len_field_size(child.field, self.size(j, c, sizes));
                }
            }
        }
        if let Some(s) = sizes.get_mut(i) {
            *s = size;
        }
        size
    }

    fn write(&self, i: usize, c: Chunk, sizes: &[usize], src: &[u8], out: &mut Vec<u8>) {
        let Some(n) = self.nodes.get(i) else { return };
        if i != 0 || c.lo == 0 {
            for r in self.segs.get(n.header.clone()).unwrap_or(&[]) {
                out.extend_from_slice(src.get(r.clone()).unwrap_or(&[]));
            }
        }
        if n.leaf_parent {
            for r in self.leaves_in(n, c) {
                out.extend_from_slice(src.get(r.clone()).unwrap_or(&[]));
            }
            return;
        }
        for j in self.children(i) {
            let Some(child) = self.nodes.get(j) else {
                continue;
            };
            if c.includes(&child.leaves) {
                put_len_header(out, child.field, sizes.get(j).copied().unwrap_or(0));
                self.write(j, c, sizes, src, out);
            }
        }
    }

    /// The request holding only the items `leaves` (ascending), with the containers above
    /// them: one walk over those items and their ancestors, so that cutting a request into
    /// many (a part per trace) stays linear in its items.
    fn pick(&self, leaves: &[usize], src: &[u8], scratch: &mut Scratch) -> Vec<u8> {
        let Scratch { sizes, path, chain } = scratch;
        // Pass 1: each container's body size, closed when the walk leaves it.
        path.clear();
        path.push((0, self.nodes.first().map_or(0, |n| self.header_len(n))));
        for &leaf in leaves {
            let Some(record) = self.leaves.get(leaf) else {
                continue;
            };
            let parent = self.leaf_node.get(leaf).copied().unwrap_or(0);
            self.descend(path, chain, parent, sizes, |_| {});
            if let Some(top) = path.last_mut() {
                top.1 += record.len();
            }
        }
        self.close_to(path, 0, sizes);
        let total = path.first().map_or(0, |&(_, size)| size);
        // Pass 2: the same walk, writing each container's header as it is entered.
        let mut out = Vec::with_capacity(total);
        if let Some(n) = self.nodes.first() {
            for r in self.segs.get(n.header.clone()).unwrap_or(&[]) {
                out.extend_from_slice(src.get(r.clone()).unwrap_or(&[]));
            }
        }
        path.clear();
        path.push((0, 0));
        for &leaf in leaves {
            let Some(record) = self.leaves.get(leaf) else {
                continue;
            };
            let parent = self.leaf_node.get(leaf).copied().unwrap_or(0);
            self.descend(path, chain, parent, &mut [], |n| {
                if let Some(node) = self.nodes.get(n) {
                    put_len_header(&mut out, node.field, sizes.get(n).copied().unwrap_or(0));
                    for r in self.segs.get(node.header.clone()).unwrap_or(&[]) {
                        out.extend_from_slice(src.get(r.clone()).unwrap_or(&[]));
                    }
                }
            });
            out.extend_from_slice(src.get(record.clone()).unwrap_or(&[]));
        }
        out
    }

    /// Moves the walk's `path` (containers entered, with the body size so far) to `target`:
    /// closes the containers that do not hold it (recording their sizes in `sizes`, when it
    /// has room, and adding them to their parents) and enters the ones between, calling
    /// `enter` for each from the outermost.
    fn descend(
        &self,
        path: &mut Vec<(usize, usize)>,
        chain: &mut Vec<usize>,
        target: usize,
        sizes: &mut [usize],
        mut enter: impl FnMut(usize),
    ) {
        let holds = |a: usize| a <= target && self.nodes.get(a).is_some_and(|n| target < n.end);
        let keep = path.iter().rposition(|&(n, _)| holds(n)).unwrap_or(0);
        self.close_to(path, keep, sizes);
        let top = path.last().map_or(0, |&(n, _)| n);
        chain.clear();
        let mut n = target;
        while n != top && n != 0 {
            chain.push(n);
            n = self.nodes.get(n).map_or(0, |node| node.parent);
        }
        for &n in chain.iter().rev() {
            enter(n);
            let header = self.nodes.get(n).map_or(0, |node| self.header_len(node));
            path.push((n, header));
        }
    }

    /// Closes the containers of `path` above index `keep`.
    fn close_to(&self, path: &mut Vec<(usize, usize)>, keep: usize, sizes: &mut [usize]) {
        while path.len() > keep + 1 {
            let Some((n, size)) = path.pop() else { return };
            if let Some(slot) = sizes.get_mut(n) {
                *slot = size;
            }
            let field = self.nodes.get(n).map_or(0, |node| node.field);
            if let Some(parent) = path.last_mut() {
                parent.1 += len_field_size(field, size);
            }
        }
    }
}

#[cfg(test)]
mod tests;
