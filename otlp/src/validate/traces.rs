//! Traces: ResourceSpans → ScopeSpans → Span (+ Event, Link, Status). Items are spans.

use super::common::{attribute, item, resource, scope, sub};
use super::{Ctx, Path, ValidationError, each_field};
use crate::wire::put_len_field;

/// `ResourceSpans { resource = 1; scope_spans = 2; schema_url = 3; }`
pub(super) fn resource_spans(
    c: &Ctx<'_>,
    buf: &[u8],
    base: usize,
    p: &Path<'_>,
) -> Result<usize, ValidationError> {
    let mut items = 0;
    let mut n = 0;
    each_field(buf, base, p, |fd| {
        match fd.num {
            1 => sub(c, &fd, base, p, "resource", resource)?,
            2 => items += item(c, &fd, base, p, "scope_spans", &mut n, scope_spans)?,
            3 => c.string(&fd, base, &p.field("schema_url")).map(drop)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(items)
}

/// `ScopeSpans { scope = 1; spans = 2; schema_url = 3; }`
fn scope_spans(
    c: &Ctx<'_>,
    buf: &[u8],
    base: usize,
    p: &Path<'_>,
) -> Result<usize, ValidationError> {
    let mut n = 0;
    each_field(buf, base, p, |fd| match fd.num {
        1 => sub(c, &fd, base, p, "scope", scope),
        2 => item(c, &fd, base, p, "spans", &mut n, span),
        3 => c.string(&fd, base, &p.field("schema_url")).map(drop),
        _ => Ok(()),
    })?;
    Ok(n)
}

fn span(c: &Ctx<'_>, buf: &[u8], base: usize, p: &Path<'_>) -> Result<(), ValidationError> {
    let (mut attrs, mut events, mut links) = (0, 0, 0);
    each_field(buf, base, p, |fd| match fd.num {
        1 => c.id(&fd, base, &p.field("trace_id"), 16),
        2 => c.id(&fd, base, &p.field("span_id"), 8),
        3 => c.string(&fd, base, &p.field("trace_state")).map(drop),
        4 => c.id(&fd, base, &p.field("parent_span_id"), 8),
        5 => c.string(&fd, base, &p.field("name")).map(drop),
        6 => c.varint(&fd, base, &p.field("kind")),
        7 => c.fixed64(&fd, base, &p.field("start_time_unix_nano")),
        8 => c.fixed64(&fd, base, &p.field("end_time_unix_nano")),
        9 => attribute(c, &fd, base, p, "attributes", &mut attrs),
        10 => c.varint(&fd, base, &p.field("dropped_attributes_count")),
        11 => item(c, &fd, base, p, "events", &mut events, event),
        12 => c.varint(&fd, base, &p.field("dropped_events_count")),
        13 => item(c, &fd, base, p, "links", &mut links, link),
        14 => c.varint(&fd, base, &p.field("dropped_links_count")),
        15 => sub(c, &fd, base, p, "status", status),
        16 => c.fixed32(&fd, base, &p.field("flags")),
        _ => Ok(()),
    })
}

/// `Span.Event { time_unix_nano = 1; name = 2; attributes = 3; dropped_attributes_count = 4; }`
fn event(c: &Ctx<'_>, buf: &[u8], base: usize, p: &Path<'_>) -> Result<(), ValidationError> {
    let mut attrs = 0;
    each_field(buf, base, p, |fd| match fd.num {
        1 => c.fixed64(&fd, base, &p.field("time_unix_nano")),
        2 => c.string(&fd, base, &p.field("name")).map(drop),
        3 => attribute(c, &fd, base, p, "attributes", &mut attrs),
        4 => c.varint(&fd, base, &p.field("dropped_attributes_count")),
        _ => Ok(()),
    })
}

/// `Span.Link { trace_id = 1; span_id = 2; trace_state = 3; attributes = 4;
/// dropped_attributes_count = 5; flags = 6; }`
fn link(c: &Ctx<'_>, buf: &[u8], base: usize, p: &Path<'_>) -> Result<(), ValidationError> {
    let mut attrs = 0;
    each_field(buf, base, p, |fd| match fd.num {
        1 => c.id(&fd, base, &p.field("trace_id"), 16),
        2 => c.id(&fd, base, &p.field("span_id"), 8),
        3 => c.string(&fd, base, &p.field("trace_state")).map(drop),
        4 => attribute(c, &fd, base, p, "attributes", &mut attrs),
        5 => c.varint(&fd, base, &p.field("dropped_attributes_count")),
        6 => c.fixed32(&fd, base, &p.field("flags")),
        _ => Ok(()),
    })
}

/// `Status { message = 2; code = 3; }`
fn status(c: &Ctx<'_>, buf: &[u8], base: usize, p: &Path<'_>) -> Result<(), ValidationError> {
    each_field(buf, base, p, |fd| match fd.num {
        2 => c.string(&fd, base, &p.field("message")).map(drop),
        3 => c.varint(&fd, base, &p.field("code")),
        _ => Ok(()),
    })
}

/// See [`super::salvage_traces`].
pub(super) fn salvage(c: &Ctx<'_>, buf: &[u8]) -> Result<super::Salvage, ValidationError> {
    let root = Path::ROOT;
    let mut s = super::Salvage::default();
    let mut out = Vec::with_capacity(buf.len());
    let mut rindex = 0;
    each_field(buf, 0, &root, |fd| {
        let raw = buf.get(fd.start..fd.end).unwrap_or(&[]);
        if fd.num != 1 {
            out.extend_from_slice(raw);
            return Ok(());
        }
        let p = root.item("resource_spans", rindex);
        rindex += 1;
        let rs = c.len(&fd, 0, &p)?;
        let rs_out = salvage_level(
            c,
            (rs, fd.data_start(), &p),
            ("resource", resource),
            "scope_spans",
            |_, ss, sbase, sp, rs_out| {
                let ss_out = salvage_level(
                    c,
                    (ss, sbase, sp),
                    ("scope", scope),
                    "spans",
                    |raw, body, base, one, ss_out| {
                        match span(c, body, base, one) {
                            Ok(()) => {
                                s.kept += 1;
                                ss_out.extend_from_slice(raw);
                            }
                            Err(e) => {
                                s.rejected += 1;
                                s.first.get_or_insert(e);
                            }
                        }
                        Ok(())
                    },
                )?;
                put_len_field(rs_out, 2, &ss_out);
                Ok(())
            },
        )?;
        put_len_field(&mut out, 1, &rs_out);
        Ok(())
    })?;
    s.bytes = out;
    Ok(s)
}

type Check = fn(&Ctx<'_>, &[u8], usize, &Path<'_>) -> Result<(), ValidationError>;

/// Salvages one level of the tree that has the shape `{ header = 1; children = 2;
/// schema_url = 3; }` (`ResourceSpans`, `ScopeSpans`): its own fields are checked as
/// [`resource_spans`] checks them (an error there is the whole request's) and copied, and
/// `child` appends to the copy what it keeps of each child. `child` gets the child's field
/// bytes, its body, the body's absolute offset and its path. `msg` is the level's bytes, their
/// absolute offset and its path.
fn salvage_level<'a>(
    c: &Ctx<'_>,
    (msg, base, p): (&'a [u8], usize, &Path<'_>),
    (header, check): (&'static str, Check),
    children: &'static str,
    mut child: impl FnMut(
        &'a [u8],
        &'a [u8],
        usize,
        &Path<'_>,
        &mut Vec<u8>,
    ) -> Result<(), ValidationError>,
) -> Result<Vec<u8>, ValidationError> {
    let mut out = Vec::with_capacity(msg.len());
    let mut n = 0;
    each_field(msg, base, p, |fd| {
        let raw = msg.get(fd.start..fd.end).unwrap_or(&[]);
        match fd.num {
            1 => sub(c, &fd, base, p, header, check)?,
            3 => c.string(&fd, base, &p.field("schema_url")).map(drop)?,
            2 => {
                let cp = p.item(children, n);
                n += 1;
                let body = c.len(&fd, base, &cp)?;
                return child(raw, body, base + fd.data_start(), &cp, &mut out);
            }
            _ => {}
        }
        out.extend_from_slice(raw);
        Ok(())
    })?;
    Ok(out)
}
