//! Logs: ResourceLogs → ScopeLogs → LogRecord. Items are log records.

use super::common::{any_value, attribute, item, resource, scope, sub};
use super::{Ctx, Path, ValidationError, each_field};

/// `ResourceLogs { resource = 1; scope_logs = 2; schema_url = 3; }`
pub(super) fn resource_logs(
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
            2 => items += item(c, &fd, base, p, "scope_logs", &mut n, scope_logs)?,
            3 => c.string(&fd, base, &p.field("schema_url")).map(drop)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(items)
}

/// `ScopeLogs { scope = 1; log_records = 2; schema_url = 3; }`
fn scope_logs(
    c: &Ctx<'_>,
    buf: &[u8],
    base: usize,
    p: &Path<'_>,
) -> Result<usize, ValidationError> {
    let mut n = 0;
    each_field(buf, base, p, |fd| match fd.num {
        1 => sub(c, &fd, base, p, "scope", scope),
        2 => item(c, &fd, base, p, "log_records", &mut n, log_record),
        3 => c.string(&fd, base, &p.field("schema_url")).map(drop),
        _ => Ok(()),
    })?;
    Ok(n)
}

fn log_record(c: &Ctx<'_>, buf: &[u8], base: usize, p: &Path<'_>) -> Result<(), ValidationError> {
    let mut attrs = 0;
    each_field(buf, base, p, |fd| match fd.num {
        1 => c.fixed64(&fd, base, &p.field("time_unix_nano")),
        11 => c.fixed64(&fd, base, &p.field("observed_time_unix_nano")),
        2 => c.varint(&fd, base, &p.field("severity_number")),
        3 => c.string(&fd, base, &p.field("severity_text")).map(drop),
        5 => {
            let bp = p.field("body");
            let body = c.len(&fd, base, &bp)?;
            any_value(c, body, base + fd.data_start(), &bp, 1, false)
        }
        6 => attribute(c, &fd, base, p, "attributes", &mut attrs),
        7 => c.varint(&fd, base, &p.field("dropped_attributes_count")),
        8 => c.fixed32(&fd, base, &p.field("flags")),
        9 => c.id(&fd, base, &p.field("trace_id"), 16),
        10 => c.id(&fd, base, &p.field("span_id"), 8),
        12 => c.string(&fd, base, &p.field("event_name")).map(drop),
        _ => Ok(()),
    })
}
