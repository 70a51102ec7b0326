//! Metrics: ResourceMetrics → ScopeMetrics → Metric → Gauge/Sum/Histogram/
//! ExponentialHistogram/Summary → data points. Items are data points.

use super::common::{attribute, item, resource, scope, sub};
use super::{Ctx, Path, ValidationError, each_field};

/// `ResourceMetrics { resource = 1; scope_metrics = 2; schema_url = 3; }`
pub(super) fn resource_metrics(
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
            2 => items += item(c, &fd, base, p, "scope_metrics", &mut n, scope_metrics)?,
            3 => c.string(&fd, base, &p.field("schema_url")).map(drop)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(items)
}

/// `ScopeMetrics { scope = 1; metrics = 2; schema_url = 3; }`
fn scope_metrics(
    c: &Ctx<'_>,
    buf: &[u8],
    base: usize,
    p: &Path<'_>,
) -> Result<usize, ValidationError> {
    let mut items = 0;
    let mut n = 0;
    each_field(buf, base, p, |fd| {
        match fd.num {
            1 => sub(c, &fd, base, p, "scope", scope)?,
            2 => items += item(c, &fd, base, p, "metrics", &mut n, metric)?,
            3 => c.string(&fd, base, &p.field("schema_url")).map(drop)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(items)
}

/// `Metric { name = 1; description = 2; unit = 3; oneof data { gauge = 5; sum = 7;
/// histogram = 9; exponential_histogram = 10; summary = 11; } metadata = 12; }`
///
/// Counts data points the way a decoder sees the oneof: a repeated occurrence of the same
/// member merges (points add up), a different member replaces the earlier one.
fn metric(c: &Ctx<'_>, buf: &[u8], base: usize, p: &Path<'_>) -> Result<usize, ValidationError> {
    let mut attrs = 0;
    let mut kind = 0u32;
    let mut points = 0usize;
    each_field(buf, base, p, |fd| {
        let (name, dp): (&'static str, PointFn) = match fd.num {
            1 => return c.string(&fd, base, &p.field("name")).map(drop),
            2 => return c.string(&fd, base, &p.field("description")).map(drop),
            3 => return c.string(&fd, base, &p.field("unit")).map(drop),
            12 => return attribute(c, &fd, base, p, "metadata", &mut attrs),
            5 => ("gauge", number_point),
            7 => ("sum", number_point),
            9 => ("histogram", histogram_point),
            10 => ("exponential_histogram", exp_histogram_point),
            11 => ("summary", summary_point),
            _ => return Ok(()),
        };
        let dp_path = p.field(name);
        let body = c.len(&fd, base, &dp_path)?;
        let n = data(c, body, base + fd.data_start(), &dp_path, dp)?;
        if kind == fd.num {
            points += n;
        } else {
            kind = fd.num;
            points = n;
        }
        Ok(())
    })?;
    Ok(points)
}

type PointFn = fn(&Ctx<'_>, &[u8], usize, &Path<'_>) -> Result<(), ValidationError>;

/// Gauge/Sum/Histogram/ExponentialHistogram/Summary: `data_points = 1`, plus
/// `aggregation_temporality = 2` and `is_monotonic = 3` where they exist.
fn data(
    c: &Ctx<'_>,
    buf: &[u8],
    base: usize,
    p: &Path<'_>,
    dp: PointFn,
) -> Result<usize, ValidationError> {
    let mut n = 0;
    each_field(buf, base, p, |fd| match fd.num {
        1 => item(c, &fd, base, p, "data_points", &mut n, dp),
        2 => c.varint(&fd, base, &p.field("aggregation_temporality")),
        3 => c.varint(&fd, base, &p.field("is_monotonic")),
        _ => Ok(()),
    })?;
    Ok(n)
}

fn number_point(c: &Ctx<'_>, buf: &[u8], base: usize, p: &Path<'_>) -> Result<(), ValidationError> {
    let (mut attrs, mut ex) = (0, 0);
    each_field(buf, base, p, |fd| match fd.num {
        7 => attribute(c, &fd, base, p, "attributes", &mut attrs),
        2 => c.fixed64(&fd, base, &p.field("start_time_unix_nano")),
        3 => c.fixed64(&fd, base, &p.field("time_unix_nano")),
        4 => c.fixed64(&fd, base, &p.field("as_double")),
        6 => c.fixed64(&fd, base, &p.field("as_int")),
        5 => item(c, &fd, base, p, "exemplars", &mut ex, exemplar),
        8 => c.varint(&fd, base, &p.field("flags")),
        _ => Ok(()),
    })
}

fn histogram_point(
    c: &Ctx<'_>,
    buf: &[u8],
    base: usize,
    p: &Path<'_>,
) -> Result<(), ValidationError> {
    let (mut attrs, mut ex) = (0, 0);
    each_field(buf, base, p, |fd| match fd.num {
        9 => attribute(c, &fd, base, p, "attributes", &mut attrs),
        2 => c.fixed64(&fd, base, &p.field("start_time_unix_nano")),
        3 => c.fixed64(&fd, base, &p.field("time_unix_nano")),
        4 => c.fixed64(&fd, base, &p.field("count")),
        5 => c.fixed64(&fd, base, &p.field("sum")),
        6 => c.packed_fixed64(&fd, base, &p.field("bucket_counts")),
        7 => c.packed_fixed64(&fd, base, &p.field("explicit_bounds")),
        8 => item(c, &fd, base, p, "exemplars", &mut ex, exemplar),
        10 => c.varint(&fd, base, &p.field("flags")),
        11 => c.fixed64(&fd, base, &p.field("min")),
        12 => c.fixed64(&fd, base, &p.field("max")),
        _ => Ok(()),
    })
}

fn exp_histogram_point(
    c: &Ctx<'_>,
    buf: &[u8],
    base: usize,
    p: &Path<'_>,
) -> Result<(), ValidationError> {
    let (mut attrs, mut ex) = (0, 0);
    each_field(buf, base, p, |fd| match fd.num {
        1 => attribute(c, &fd, base, p, "attributes", &mut attrs),
        2 => c.fixed64(&fd, base, &p.field("start_time_unix_nano")),
        3 => c.fixed64(&fd, base, &p.field("time_unix_nano")),
        4 => c.fixed64(&fd, base, &p.field("count")),
        5 => c.fixed64(&fd, base, &p.field("sum")),
        6 => c.varint(&fd, base, &p.field("scale")),
        7 => c.fixed64(&fd, base, &p.field("zero_count")),
        8 => sub(c, &fd, base, p, "positive", buckets),
        9 => sub(c, &fd, base, p, "negative", buckets),
        10 => c.varint(&fd, base, &p.field("flags")),
        11 => item(c, &fd, base, p, "exemplars", &mut ex, exemplar),
        12 => c.fixed64(&fd, base, &p.field("min")),
        13 => c.fixed64(&fd, base, &p.field("max")),
        14 => c.fixed64(&fd, base, &p.field("zero_threshold")),
        _ => Ok(()),
    })
}

/// `Buckets { sint32 offset = 1; repeated uint64 bucket_counts = 2; }`
fn buckets(c: &Ctx<'_>, buf: &[u8], base: usize, p: &Path<'_>) -> Result<(), ValidationError> {
    each_field(buf, base, p, |fd| match fd.num {
        1 => c.varint(&fd, base, &p.field("offset")),
        2 => c.packed_varint(&fd, base, &p.field("bucket_counts")),
        _ => Ok(()),
    })
}

fn summary_point(
    c: &Ctx<'_>,
    buf: &[u8],
    base: usize,
    p: &Path<'_>,
) -> Result<(), ValidationError> {
    let (mut attrs, mut q) = (0, 0);
    each_field(buf, base, p, |fd| match fd.num {
        7 => attribute(c, &fd, base, p, "attributes", &mut attrs),
        2 => c.fixed64(&fd, base, &p.field("start_time_unix_nano")),
        3 => c.fixed64(&fd, base, &p.field("time_unix_nano")),
        4 => c.fixed64(&fd, base, &p.field("count")),
        5 => c.fixed64(&fd, base, &p.field("sum")),
        6 => item(c, &fd, base, p, "quantile_values", &mut q, quantile),
        8 => c.varint(&fd, base, &p.field("flags")),
        _ => Ok(()),
    })
}

/// `ValueAtQuantile { double quantile = 1; double value = 2; }`
fn quantile(c: &Ctx<'_>, buf: &[u8], base: usize, p: &Path<'_>) -> Result<(), ValidationError> {
    each_field(buf, base, p, |fd| match fd.num {
        1 => c.fixed64(&fd, base, &p.field("quantile")),
        2 => c.fixed64(&fd, base, &p.field("value")),
        _ => Ok(()),
    })
}

/// `Exemplar { filtered_attributes = 7; time_unix_nano = 2; as_double = 3; as_int = 6;
/// span_id = 4; trace_id = 5; }`
fn exemplar(c: &Ctx<'_>, buf: &[u8], base: usize, p: &Path<'_>) -> Result<(), ValidationError> {
    let mut attrs = 0;
    each_field(buf, base, p, |fd| match fd.num {
        7 => attribute(c, &fd, base, p, "filtered_attributes", &mut attrs),
        2 => c.fixed64(&fd, base, &p.field("time_unix_nano")),
        3 => c.fixed64(&fd, base, &p.field("as_double")),
        6 => c.fixed64(&fd, base, &p.field("as_int")),
        4 => c.id(&fd, base, &p.field("span_id"), 8),
        5 => c.id(&fd, base, &p.field("trace_id"), 16),
        _ => Ok(()),
    })
}
