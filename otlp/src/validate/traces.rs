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
        let rbase = fd.data_start();
        let mut rs_out = Vec::with_capacity(rs.len());
        let mut sindex = 0;
        each_field(rs, rbase, &p, |f2| {
            let raw2 = rs.get(f2.start..f2.end).unwrap_or(&[]);
            match f2.num {
                1 => sub(c, &f2, rbase, &p, "resource", resource)?,
                3 => c.string(&f2, rbase, &p.field("schema_url")).map(drop)?,
                2 => {
                    let sp = p.item("scope_spans", sindex);
                    sindex += 1;
                    let ss = c.len(&f2, rbase, &sp)?;
                    let sbase = rbase + f2.data_start();
                    let mut ss_out = Vec::with_capacity(ss.len());
                    let mut k = 0;
                    each_field(ss, sbase, &sp, |f3| {
                        let raw3 = ss.get(f3.start..f3.end).unwrap_or(&[]);
                        match f3.num {
                            1 => sub(c, &f3, sbase, &sp, "scope", scope)?,
                            3 => c.string(&f3, sbase, &sp.field("schema_url")).map(drop)?,
                            2 => {
                                let one = sp.item("spans", k);
                                k += 1;
                                let body = c.len(&f3, sbase, &one)?;
                                match span(c, body, sbase + f3.data_start(), &one) {
                                    Ok(()) => s.kept += 1,
                                    Err(e) => {
                                        s.rejected += 1;
                                        s.first.get_or_insert(e);
                                        return Ok(());
                                    }
                                }
                            }
                            _ => {}
                        }
                        ss_out.extend_from_slice(raw3);
                        Ok(())
                    })?;
                    put_len_field(&mut rs_out, 2, &ss_out);
                    return Ok(());
                }
                _ => {}
            }
            rs_out.extend_from_slice(raw2);
            Ok(())
        })?;
        put_len_field(&mut out, 1, &rs_out);
        Ok(())
    })?;
    s.bytes = out;
    Ok(s)
}
