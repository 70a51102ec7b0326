//! Span-level rewriting of trace requests.

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;

use crate::views::{ResourceSpansView, ScopeSpansView, SpanView};
use crate::wire::{Fields, Val, len_field_size, put_len_field, put_len_header, put_varint_field};
use crate::{Batch, Signal};

use super::attributes::{AttributeEdits, encode_with_attributes};
use super::{Action, Piece};

/// Decides, for a trace request, what happens to each resource and span.
pub trait TracesEditor<'a> {
    /// Called once per `ResourceSpans`, before its spans, with edits over the resource
    /// attributes. [`Action::Drop`] removes the resource with all its spans (and `span` is
    /// not called for them). The default keeps it unchanged.
    fn resource(
        &mut self,
        resource: &ResourceSpansView<'a>,
        attributes: &mut AttributeEdits<'a>,
    ) -> Action {
        let _ = (resource, attributes);
        Action::Keep
    }

    /// Called once per span, with its resource group and scope group as they were in the
    /// request (resource edits are not visible here). Record changes in `edit`; a span kept
    /// with no edit is copied byte for byte.
    fn span(
        &mut self,
        resource: &ResourceSpansView<'a>,
        scope: &ScopeSpansView<'a>,
        span: &SpanView<'a>,
        edit: &mut SpanEdit<'a>,
    ) -> Action;
}

/// Changes to one span. Reused from span to span (its allocations are kept).
#[derive(Debug, Default)]
pub struct SpanEdit<'a> {
    /// Edits over the span attributes.
    pub attributes: AttributeEdits<'a>,
    trace_state: Option<Cow<'a, str>>,
    drop_events: Vec<usize>,
    status: Option<(i32, Cow<'a, str>)>,
    replacement: Option<Vec<u8>>,
}

impl<'a> SpanEdit<'a> {
    fn reset(&mut self, span: &SpanView<'a>) {
        self.attributes.reset(span.attributes());
        self.trace_state = None;
        self.drop_events.clear();
        self.status = None;
        self.replacement = None;
    }

    /// Replaces the whole span with `body`, an encoded `Span` (for editors that decode the
    /// span and change more than these edits can say); the other edits are then ignored.
    /// The caller vouches that `body` is a valid span.
    pub fn replace(&mut self, body: Vec<u8>) {
        self.replacement = Some(body);
    }

    /// Replaces `trace_state` (empty removes it).
    pub fn set_trace_state(&mut self, trace_state: impl Into<Cow<'a, str>>) {
        self.trace_state = Some(trace_state.into());
    }

    /// Removes the event at `index` (in the span's original event order).
    pub fn drop_event(&mut self, index: usize) {
        if !self.drop_events.contains(&index) {
            self.drop_events.push(index);
        }
    }

    /// Replaces the status (`code`: 0 unset, 1 ok, 2 error).
    pub fn set_status(&mut self, code: i32, message: impl Into<Cow<'a, str>>) {
        self.status = Some((code, message.into()));
    }

    /// True when the only change is new attributes: the span can be copied as it is, with
    /// them appended (protobuf keeps repeated fields in order wherever they occur).
    fn only_appends_attributes(&self) -> bool {
        self.replacement.is_none()
            && self.trace_state.is_none()
            && self.drop_events.is_empty()
            && self.status.is_none()
            && self.attributes.only_appends()
    }

    /// True when nothing was changed.
    pub fn is_unchanged(&self) -> bool {
        self.replacement.is_none()
            && self.attributes.is_unchanged()
            && self.trace_state.is_none()
            && self.drop_events.is_empty()
            && self.status.is_none()
    }

    /// Writes the edited span body: untouched fields copied, edited ones re-encoded.
    fn encode(&self, span: &[u8], out: &mut Vec<u8>) {
        if let Some(body) = &self.replacement {
            out.extend_from_slice(body);
            return;
        }
        let attrs_changed = !self.attributes.is_unchanged();
        let mut attrs_written = false;
        let mut event = 0usize;
        for f in Fields::ok(span) {
            let copy = match f.num {
                3 => self.trace_state.is_none(),
                9 if attrs_changed => {
                    if !attrs_written {
                        self.attributes.encode(9, out);
                        attrs_written = true;
                    }
                    false
                }
                11 => {
                    event += 1;
                    !self.drop_events.contains(&(event - 1))
                }
                15 => self.status.is_none(),
                _ => true,
            };
            if copy {
                out.extend_from_slice(span.get(f.start..f.end).unwrap_or(&[]));
            }
        }
        if attrs_changed && !attrs_written {
            self.attributes.encode(9, out);
        }
        if let Some(ts) = self.trace_state.as_deref().filter(|ts| !ts.is_empty()) {
            put_len_field(out, 3, ts.as_bytes());
        }
        if let Some((code, message)) = &self.status {
            let msg_len = if message.is_empty() {
                0
            } else {
                len_field_size(2, message.len())
            };
            let code_len = if *code == 0 {
                0
            } else {
                1 + crate::wire::varint_len(*code as i64 as u64)
            };
            put_len_header(out, 15, msg_len + code_len);
            if !message.is_empty() {
                put_len_field(out, 2, message.as_bytes());
            }
            if *code != 0 {
                put_varint_field(out, 3, *code as i64 as u64);
            }
        }
    }
}

/// A scope group being rebuilt: its header fields and kept spans, as ranges of pieces.
#[derive(Debug)]
struct ScopePlan {
    header: Range<usize>,
    spans: Range<usize>,
    had_spans: bool,
}

/// Applies `editor` to every resource and span of a trace batch. Returns the batch itself
/// (no copy) when nothing changed, or when it is not a traces batch; otherwise a new batch
/// with unchanged resources and spans copied as raw bytes, and its new span count.
///
/// Scopes that had spans and lost them all are removed, and so are resources that had scopes
/// and lost them all (as the OpenTelemetry Collector's filter processor does); scopes and
/// resources that arrived empty are left as they came.
pub fn rewrite_traces<'a, E: TracesEditor<'a> + ?Sized>(batch: &'a Batch, editor: &mut E) -> Batch {
    if batch.signal() != Signal::Traces {
        return batch.clone();
    }
    let src: &'a [u8] = batch.bytes();
    // Allocated at the first change: until then the output would be a prefix of the source,
    // so a batch the editor leaves alone costs no copy and no output buffer.
    let mut out: Vec<u8> = Vec::new();
    let mut items = 0usize;
    let mut changed = false;
    let begin_output = |out: &mut Vec<u8>, changed: &mut bool, upto: usize| {
        if !*changed {
            *changed = true;
            out.reserve(src.len());
            out.extend_from_slice(src.get(..upto).unwrap_or(&[]));
        }
    };
    // Scratch state, reused for every resource.
    let mut redit = AttributeEdits::default();
    let mut sedit = SpanEdit::default();
    let mut pieces: Vec<Piece> = Vec::new();
    let mut scopes: Vec<ScopePlan> = Vec::new();
    let mut scratch: Vec<u8> = Vec::new();
    let mut tmp: Vec<u8> = Vec::new();

    for f in Fields::ok(src) {
        let (1, Val::Len(rs_buf)) = (f.num, f.val) else {
            if changed {
                out.extend_from_slice(src.get(f.start..f.end).unwrap_or(&[]));
            }
            continue;
        };
        let rs_off = f.data_start();
        let rs = ResourceSpansView::new(rs_buf);
        let resource = rs.resource();
        redit.reset(resource.attributes());
        if editor.resource(&rs, &mut redit) == Action::Drop {
            begin_output(&mut out, &mut changed, f.start);
            continue;
        }
        let mut rs_changed = !redit.is_unchanged();
        pieces.clear();
        scopes.clear();
        scratch.clear();

        // Resource group header: everything but scope_spans; the resource re-encoded if edited.
        for g in Fields::ok(rs_buf) {
            match g.num {
                2 => {}
                1 if rs_changed => {}
                _ => pieces.push(Piece::Src(rs_off + g.start..rs_off + g.end)),
            }
        }
        if rs_changed {
            tmp.clear();
            encode_with_attributes(resource.raw(), 1, &redit, &mut tmp);
            let at = scratch.len();
            put_len_header(&mut scratch, 1, tmp.len());
            scratch.extend_from_slice(&tmp);
            pieces.push(Piece::Scratch(at..scratch.len()));
        }
        let header = 0..pieces.len();

        let mut kept_in_rs = 0usize;
        for g in Fields::ok(rs_buf) {
            let (2, Val::Len(ss_buf)) = (g.num, g.val) else {
                continue;
            };
            let ss_off = rs_off + g.data_start();
            let ss = ScopeSpansView::new(ss_buf);
            let h0 = pieces.len();
            for h in Fields::ok(ss_buf) {
                if h.num != 2 {
                    pieces.push(Piece::Src(ss_off + h.start..ss_off + h.end));
                }
            }
            let s0 = pieces.len();
            let mut had_spans = false;
            for h in Fields::ok(ss_buf) {
                let (2, Val::Len(span_buf)) = (h.num, h.val) else {
                    continue;
                };
                had_spans = true;
                let span = SpanView::parse(span_buf);
                sedit.reset(&span);
                if editor.span(&rs, &ss, &span, &mut sedit) == Action::Drop {
                    rs_changed = true;
                    continue;
                }
                kept_in_rs += 1;
                if sedit.is_unchanged() {
                    // Consecutive unchanged spans are one contiguous source range: one piece,
                    // so a request the editor leaves alone records O(groups), not O(spans).
                    let r = ss_off + h.start..ss_off + h.end;
                    let after_a_span = pieces.len() > s0;
                    match pieces.last_mut() {
                        Some(Piece::Src(prev)) if after_a_span && prev.end == r.start => {
                            prev.end = r.end;
                        }
                        _ => pieces.push(Piece::Src(r)),
                    }
                } else if sedit.only_appends_attributes() {
                    // The usual `attributes`/`upsert` edit: a new length, the span's bytes
                    // as they are, then the new entries. No copy of the span into scratch.
                    // Pieces may point anywhere in scratch: the entries are written first,
                    // so their size is known for the header written after them.
                    rs_changed = true;
                    let at = scratch.len();
                    let added = sedit.attributes.encode_appended(9, &mut scratch);
                    if at == 0 {
                        // Every span of the group is likely to get the same entries: room
                        // for all of them (and three pieces each) in one allocation.
                        let spans = ss_buf.len() / span_buf.len().max(1) + 1;
                        scratch.reserve(spans * (added + 8));
                        pieces.reserve(3 * spans);
                    }
                    let header = scratch.len();
                    put_len_header(&mut scratch, 2, span_buf.len() + added);
                    pieces.push(Piece::Scratch(header..scratch.len()));
                    pieces.push(Piece::Src(ss_off + h.data_start()..ss_off + h.end));
                    pieces.push(Piece::Scratch(at..header));
                } else {
                    rs_changed = true;
                    if scratch.is_empty() {
                        // Room for the edited spans of this group in one allocation: edits
                        // rarely grow a group by more than a fraction.
                        scratch.reserve(rs_buf.len() + rs_buf.len() / 4);
                        pieces.reserve(ss_buf.len() / span_buf.len().max(1));
                    }
                    tmp.clear();
                    sedit.encode(span_buf, &mut tmp);
                    let at = scratch.len();
                    put_len_header(&mut scratch, 2, tmp.len());
                    scratch.extend_from_slice(&tmp);
                    pieces.push(Piece::Scratch(at..scratch.len()));
                }
            }
            scopes.push(ScopePlan {
                header: h0..s0,
                spans: s0..pieces.len(),
                had_spans,
            });
        }

        if !rs_changed {
            if changed {
                out.extend_from_slice(src.get(f.start..f.end).unwrap_or(&[]));
            }
            items += kept_in_rs;
            continue;
        }
        begin_output(&mut out, &mut changed, f.start);
        // Scopes emptied by drops go; so does a resource whose scopes all went.
        let keep = |s: &ScopePlan| !s.had_spans || !s.spans.is_empty();
        if !scopes.is_empty() && !scopes.iter().any(keep) {
            continue;
        }
        let size_of = |r: &Range<usize>| {
            pieces
                .get(r.clone())
                .map_or(0, |p| p.iter().map(Piece::len).sum::<usize>())
        };
        let mut rs_size = size_of(&header);
        for s in scopes.iter().filter(|s| keep(s)) {
            rs_size += len_field_size(2, size_of(&s.header) + size_of(&s.spans));
        }
        put_len_header(&mut out, 1, rs_size);
        for p in pieces.get(header.clone()).unwrap_or(&[]) {
            p.write(src, &scratch, &mut out);
        }
        for s in scopes.iter().filter(|s| keep(s)) {
            put_len_header(&mut out, 2, size_of(&s.header) + size_of(&s.spans));
            for p in pieces.get(s.header.start..s.spans.end).unwrap_or(&[]) {
                p.write(src, &scratch, &mut out);
            }
        }
        items += kept_in_rs;
    }
    if !changed {
        return batch.clone();
    }
    Batch::from_trusted(Signal::Traces, Bytes::from(out), items)
}
