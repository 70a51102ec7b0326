//! Resource-attribute rewriting for every signal.

use bytes::Bytes;

use crate::batching::count_group_items;
use crate::views::ResourceView;
use crate::wire::{Fields, put_len_header};
use crate::{Batch, Signal};

use super::Action;
use super::attributes::{AttributeEdits, encode_with_attributes};

/// Calls `editor` once per resource group (`ResourceSpans`, `ResourceMetrics`,
/// `ResourceLogs`) with the resource and an [`AttributeEdits`] over its attributes; drops the
/// group (and its items) on [`Action::Drop`], re-encodes only the `resource` field of edited
/// groups and copies everything else. Returns the batch itself when nothing changed.
pub fn rewrite_resources<'a, F>(batch: &'a Batch, mut editor: F) -> Batch
where
    F: FnMut(&ResourceView<'a>, &mut AttributeEdits<'a>) -> Action,
{
    let src: &'a [u8] = batch.bytes();
    let signal: Signal = batch.signal();
    let mut out = Vec::new();
    let mut items = batch.items();
    let mut changed = false;
    let mut edits = AttributeEdits::default();
    let mut body = Vec::new();
    // Until the first change the output would be a prefix of the source: nothing is copied.
    let begin_output = |out: &mut Vec<u8>, changed: &mut bool, upto: usize| {
        if !*changed {
            *changed = true;
            out.reserve(src.len());
            out.extend_from_slice(src.get(..upto).unwrap_or(&[]));
        }
    };
    for f in Fields::ok(src) {
        let rec = src.get(f.start..f.end).unwrap_or(&[]);
        let crate::wire::Val::Len(group) = f.val else {
            if changed {
                out.extend_from_slice(rec);
            }
            continue;
        };
        if f.num != 1 {
            if changed {
                out.extend_from_slice(rec);
            }
            continue;
        }
        let res_buf = crate::views::last_len_opt(group, 1);
        let resource = ResourceView::new(res_buf);
        edits.reset(resource.attributes());
        if editor(&resource, &mut edits) == Action::Drop {
            items = items.saturating_sub(count_group_items(signal, group));
            begin_output(&mut out, &mut changed, f.start);
            continue;
        }
        if edits.is_unchanged() {
            if changed {
                out.extend_from_slice(rec);
            }
            continue;
        }
        begin_output(&mut out, &mut changed, f.start);
        // The new Resource message: its other fields copied, attributes re-encoded.
        let mut res = Vec::new();
        encode_with_attributes(res_buf.unwrap_or(&[]), 1, &edits, &mut res);
        body.clear();
        put_len_header(&mut body, 1, res.len());
        body.extend_from_slice(&res);
        for g in Fields::ok(group) {
            if g.num != 1 {
                body.extend_from_slice(group.get(g.start..g.end).unwrap_or(&[]));
            }
        }
        put_len_header(&mut out, 1, body.len());
        out.extend_from_slice(&body);
    }
    if !changed {
        return batch.clone();
    }
    Batch::from_trusted(signal, Bytes::from(out), items)
}
