//! Messages shared by all signals: KeyValue, AnyValue, Resource, InstrumentationScope.

use super::{Ctx, ErrorKind, Path, ValidationError, each_field};
use crate::wire::Field;

/// One entry of an `attributes` (or `metadata`, `filtered_attributes`) list: counts it against
/// the limit and validates it. `count` is the number of entries seen so far in this list.
#[inline]
pub(crate) fn attribute(
    c: &Ctx<'_>,
    fd: &Field<'_>,
    base: usize,
    parent: &Path<'_>,
    name: &'static str,
    count: &mut usize,
) -> Result<(), ValidationError> {
    let p = parent.item(name, *count);
    *count += 1;
    if *count > c.limits.max_attributes {
        return Err(p.error(
            ErrorKind::TooManyAttributes {
                limit: c.limits.max_attributes,
            },
            base + fd.start,
        ));
    }
    let body = c.len(fd, base, &p)?;
    if c.limits.max_depth >= 1 && plain_key_value(body, c.limits.max_value_bytes) {
        return Ok(());
    }
    // One ASCII scan of the whole KeyValue usually covers both its strings (tags and short
    // lengths are ASCII bytes too), saving a UTF-8 check per string.
    key_value(c, body, base + fd.data_start(), &p, 1, body.is_ascii())
}

/// True for a valid KeyValue in the layout SDKs and Envoy write: `key`, then a `value` holding
/// one string or one int, short lengths, ASCII strings within `max_value` bytes. Attributes
/// are most of a span, and the general walk (a path, a closure and a `Result` per field) cost
/// about 290 instructions for each; this is a few dozen. `false` only means "not this
/// layout": the caller walks it in full.
#[inline]
pub(crate) fn plain_key_value(kv: &[u8], max_value: usize) -> bool {
    let [0x0a, klen, rest @ ..] = kv else {
        return false;
    };
    let klen = usize::from(*klen);
    if klen >= 0x80 || klen > max_value || !rest.get(..klen).is_some_and(<[u8]>::is_ascii) {
        return false;
    }
    let Some(([0x12, vlen], value)) = rest.get(klen..).and_then(<[u8]>::split_first_chunk::<2>)
    else {
        return false;
    };
    if *vlen >= 0x80 || usize::from(*vlen) != value.len() {
        return false;
    }
    match value {
        [0x0a, slen, s @ ..] => {
            *slen < 0x80 && usize::from(*slen) == s.len() && s.len() <= max_value && s.is_ascii()
        }
        // A varint of at most 9 bytes (the 10-byte form has its own rule: the general walk).
        [0x18, v @ ..] => v.split_last().is_some_and(|(last, init)| {
            *last < 0x80 && init.len() < 9 && init.iter().all(|b| *b >= 0x80)
        }),
        _ => false,
    }
}

/// `KeyValue { string key = 1; AnyValue value = 2; int32 key_strindex = 3; }`; `depth` is
/// the nesting level of its value (1 for a top-level attribute); `ascii`: `buf` is known to
/// be ASCII, so its strings need no UTF-8 check.
pub(crate) fn key_value(
    c: &Ctx<'_>,
    buf: &[u8],
    base: usize,
    p: &Path<'_>,
    depth: usize,
    ascii: bool,
) -> Result<(), ValidationError> {
    each_field(buf, base, p, |fd| match fd.num {
        1 => {
            let kp = p.field("key");
            let n = c.string_in(&fd, base, &kp, ascii)?;
            c.value_len(n, &fd, base, &kp)
        }
        2 => {
            let vp = p.field("value");
            let body = c.len(&fd, base, &vp)?;
            any_value(c, body, base + fd.data_start(), &vp, depth, ascii)
        }
        3 => c.varint(&fd, base, &p.field("key_strindex")),
        _ => Ok(()),
    })
}

/// `AnyValue`, a oneof of string, bool, int, double, array, kvlist, bytes (and strindex).
pub(crate) fn any_value(
    c: &Ctx<'_>,
    buf: &[u8],
    base: usize,
    p: &Path<'_>,
    depth: usize,
    ascii: bool,
) -> Result<(), ValidationError> {
    if depth > c.limits.max_depth {
        return Err(p.error(
            ErrorKind::TooDeep {
                limit: c.limits.max_depth,
            },
            base,
        ));
    }
    each_field(buf, base, p, |fd| match fd.num {
        1 => {
            let sp = p.field("string_value");
            let n = c.string_in(&fd, base, &sp, ascii)?;
            c.value_len(n, &fd, base, &sp)
        }
        2 => c.varint(&fd, base, &p.field("bool_value")),
        3 => c.varint(&fd, base, &p.field("int_value")),
        4 => c.fixed64(&fd, base, &p.field("double_value")),
        5 => {
            let ap = p.field("array_value");
            let body = c.len(&fd, base, &ap)?;
            let abase = base + fd.data_start();
            let mut i = 0;
            each_field(body, abase, &ap, |e| {
                if e.num != 1 {
                    return Ok(());
                }
                let ep = ap.item("values", i);
                i += 1;
                let v = c.len(&e, abase, &ep)?;
                any_value(c, v, abase + e.data_start(), &ep, depth + 1, ascii)
            })
        }
        6 => {
            let kp = p.field("kvlist_value");
            let body = c.len(&fd, base, &kp)?;
            let kbase = base + fd.data_start();
            let mut i = 0;
            each_field(body, kbase, &kp, |e| {
                if e.num != 1 {
                    return Ok(());
                }
                let ep = kp.item("values", i);
                i += 1;
                if i > c.limits.max_attributes {
                    return Err(ep.error(
                        ErrorKind::TooManyAttributes {
                            limit: c.limits.max_attributes,
                        },
                        kbase + e.start,
                    ));
                }
                let v = c.len(&e, kbase, &ep)?;
                key_value(c, v, kbase + e.data_start(), &ep, depth + 1, ascii)
            })
        }
        7 => {
            let bp = p.field("bytes_value");
            let n = c.len(&fd, base, &bp)?.len();
            c.value_len(n, &fd, base, &bp)
        }
        8 => c.varint(&fd, base, &p.field("string_value_strindex")),
        _ => Ok(()),
    })
}

impl Ctx<'_> {
    #[inline]
    fn value_len(
        &self,
        n: usize,
        fd: &Field<'_>,
        base: usize,
        p: &Path<'_>,
    ) -> Result<(), ValidationError> {
        if n > self.limits.max_value_bytes {
            Err(p.error(
                ErrorKind::ValueTooLong {
                    len: n,
                    limit: self.limits.max_value_bytes,
                },
                base + fd.start,
            ))
        } else {
            Ok(())
        }
    }
}

/// `Resource { attributes = 1; dropped_attributes_count = 2; entity_refs = 3; }`
pub(crate) fn resource(
    c: &Ctx<'_>,
    buf: &[u8],
    base: usize,
    p: &Path<'_>,
) -> Result<(), ValidationError> {
    let mut attrs = 0;
    let mut refs = 0;
    each_field(buf, base, p, |fd| match fd.num {
        1 => attribute(c, &fd, base, p, "attributes", &mut attrs),
        2 => c.varint(&fd, base, &p.field("dropped_attributes_count")),
        3 => {
            let rp = p.item("entity_refs", refs);
            refs += 1;
            let body = c.len(&fd, base, &rp)?;
            entity_ref(c, body, base + fd.data_start(), &rp)
        }
        _ => Ok(()),
    })
}

/// `EntityRef { schema_url = 1; type = 2; repeated id_keys = 3; repeated description_keys = 4; }`
fn entity_ref(c: &Ctx<'_>, buf: &[u8], base: usize, p: &Path<'_>) -> Result<(), ValidationError> {
    each_field(buf, base, p, |fd| {
        let name = match fd.num {
            1 => "schema_url",
            2 => "type",
            3 => "id_keys",
            4 => "description_keys",
            _ => return Ok(()),
        };
        c.string(&fd, base, &p.field(name)).map(drop)
    })
}

/// `InstrumentationScope { name = 1; version = 2; attributes = 3; dropped_attributes_count = 4; }`
pub(crate) fn scope(
    c: &Ctx<'_>,
    buf: &[u8],
    base: usize,
    p: &Path<'_>,
) -> Result<(), ValidationError> {
    let mut attrs = 0;
    each_field(buf, base, p, |fd| match fd.num {
        1 => c.string(&fd, base, &p.field("name")).map(drop),
        2 => c.string(&fd, base, &p.field("version")).map(drop),
        3 => attribute(c, &fd, base, p, "attributes", &mut attrs),
        4 => c.varint(&fd, base, &p.field("dropped_attributes_count")),
        _ => Ok(()),
    })
}

/// Validates a singular sub-message field with `f`, at path `parent.name`.
#[inline]
pub(crate) fn sub(
    c: &Ctx<'_>,
    fd: &Field<'_>,
    base: usize,
    parent: &Path<'_>,
    name: &'static str,
    f: fn(&Ctx<'_>, &[u8], usize, &Path<'_>) -> Result<(), ValidationError>,
) -> Result<(), ValidationError> {
    let p = parent.field(name);
    let body = c.len(fd, base, &p)?;
    f(c, body, base + fd.data_start(), &p)
}

/// Validates one element of a repeated sub-message field with `f`, at `parent.name[index]`.
#[inline]
pub(crate) fn item<T>(
    c: &Ctx<'_>,
    fd: &Field<'_>,
    base: usize,
    parent: &Path<'_>,
    name: &'static str,
    index: &mut usize,
    f: fn(&Ctx<'_>, &[u8], usize, &Path<'_>) -> Result<T, ValidationError>,
) -> Result<T, ValidationError> {
    let p = parent.item(name, *index);
    *index += 1;
    let body = c.len(fd, base, &p)?;
    f(c, body, base + fd.data_start(), &p)
}
