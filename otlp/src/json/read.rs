//! The OTLP/JSON reader: JSON straight to protobuf bytes, driven by the table of each message's
//! fields in [`schema`](super::schema), without building the request as structs first.
//!
//! What it accepts is what the OpenTelemetry Collector's pdata reader accepts, since that is
//! what OTLP/JSON senders are tested against:
//! - keys in lowerCamelCase or as the proto field names (`traceId` and `trace_id`); an
//!   unknown key is skipped with its value;
//! - `null` for any field: the field is absent;
//! - trace and span ids in hex, either case; `bytesValue` in base64 (standard or URL-safe,
//!   padded or not);
//! - integers as numbers or decimal strings, 32-bit ones included; enums as integers or by
//!   name (`SPAN_KIND_SERVER`);
//! - doubles as numbers, as decimal strings, or as `"NaN"`, `"Infinity"` and `"-Infinity"`
//!   (the writer's own spelling of non-finite values).
//!
//! A field given twice (both spellings, or two members of one `oneof`) is refused rather
//! than resolved: protobuf would keep the last, a reader of the JSON might take the first.
//! Fields are written in the order prost writes them (by tag, a `oneof` at its lowest tag), so
//! a request reads back to the same bytes the protobuf twin of the JSON would have.

use std::fmt;
use std::ops::Range;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::schema::{Card, Field, Kind, Msg, camel, names, request};
use crate::Signal;
use crate::wire::{WireType, put_len_header, put_varint, tag};

/// Converts an OTLP/JSON request body for `signal` into its protobuf encoding.
pub(super) fn to_protobuf(signal: Signal, json: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let out = de.deserialize_map(MessageVisitor(request(signal)))?;
    de.end()?;
    Ok(out)
}

/// One message being written: its fields' encodings in the order they came, and where each
/// starts, so they can be put in prost's order at the end.
struct Encoder {
    buf: Vec<u8>,
    pieces: Vec<(u32, Range<usize>)>,
}

impl Encoder {
    fn new() -> Self {
        Encoder {
            buf: Vec::new(),
            pieces: Vec::new(),
        }
    }

    fn mark(&mut self, order: u32, start: usize) {
        self.pieces.push((order, start..self.buf.len()));
    }

    fn finish(mut self) -> Vec<u8> {
        if self.pieces.is_sorted_by_key(|(order, _)| *order) {
            return self.buf;
        }
        // Stable: a repeated field's items keep their order.
        self.pieces.sort_by_key(|(order, _)| *order);
        let mut out = Vec::with_capacity(self.buf.len());
        for (_, range) in &self.pieces {
            out.extend_from_slice(self.buf.get(range.clone()).unwrap_or(&[]));
        }
        out
    }
}

struct MessageVisitor(&'static Msg);

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<u8>, A::Error> {
        let fields = self.0.fields;
        let mut enc = Encoder::new();
        // Fields are at most 16 a message; oneof groups at most 1.
        let mut seen: u32 = 0;
        let mut oneofs: u32 = 0;
        while let Some(index) = map.next_key_seed(KeySeed(fields))? {
            let Some((i, f)) = index.and_then(|i| fields.get(i).map(|f| (i, f))) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let bit = 1u32 << (i % 32);
            if seen & bit != 0 {
                return Err(de::Error::custom(format_args!(
                    "{} given twice",
                    camel(f.name)
                )));
            }
            seen |= bit;
            if f.oneof != 0 {
                let group = 1u32 << (f.oneof % 32);
                if oneofs & group != 0 {
                    return Err(de::Error::custom(format_args!(
                        "{} set next to another field of its oneof",
                        camel(f.name)
                    )));
                }
                oneofs |= group;
            }
            let start = enc.buf.len();
            map.next_value_seed(FieldSeed {
                field: f,
                out: &mut enc.buf,
            })?;
            if enc.buf.len() > start {
                enc.mark(f.order, start);
            }
        }
        Ok(enc.finish())
    }
}

/// Finds the field a key names (`None`: unknown, to be skipped).
struct KeySeed(&'static [Field]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|f| names(f.name, key)))
    }
}

/// Writes one field's value (all of a repeated field's items).
struct FieldSeed<'o> {
    field: &'static Field,
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match (self.field.card, self.field.kind) {
            (Card::Repeated, _) => write!(f, "a list for {}", camel(self.field.name)),
            (_, Kind::Message(_)) => write!(f, "an object for {}", camel(self.field.name)),
            _ => write!(f, "a value for {}", camel(self.field.name)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let f = self.field;
        if f.card != Card::Repeated {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        if f.kind.packed() {
            let mut packed = Vec::new();
            while seq
                .next_element_seed(ScalarSeed {
                    field: f,
                    out: &mut packed,
                    packed: true,
                })?
                .is_some()
            {}
            if !packed.is_empty() {
                put_len_header(self.out, f.num, packed.len());
                self.out.extend_from_slice(&packed);
            }
            return Ok(());
        }
        match f.kind {
            Kind::Message(msg) => {
                while let Some(body) = seq.next_element_seed(MessageSeed(msg))? {
                    put_len_header(self.out, f.num, body.len());
                    self.out.extend_from_slice(&body);
                }
            }
            _ => {
                while seq
                    .next_element_seed(ScalarSeed {
                        field: f,
                        out: &mut *self.out,
                        packed: false,
                    })?
                    .is_some()
                {}
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let f = self.field;
        match (f.card, f.kind) {
            (Card::Single | Card::Present, Kind::Message(msg)) => {
                let body = MessageVisitor(msg).visit_map(map)?;
                put_len_header(self.out, f.num, body.len());
                self.out.extend_from_slice(&body);
                Ok(())
            }
            _ => Err(de::Error::invalid_type(de::Unexpected::Map, &self)),
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(Scalar::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(Scalar::Number(Number::U(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(Scalar::Number(Number::I(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.scalar(Scalar::Number(Number::F(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(Scalar::Str(v))
    }
}

impl FieldSeed<'_> {
    fn scalar<E: de::Error>(self, v: Scalar<'_>) -> Result<(), E> {
        if self.field.card == Card::Repeated || matches!(self.field.kind, Kind::Message(_)) {
            return Err(E::custom(format_args!(
                "{}: {}",
                camel(self.field.name),
                match self.field.card {
                    Card::Repeated => "expected a list",
                    _ => "expected an object",
                }
            )));
        }
        write_scalar(self.field, v, self.out, false)
    }
}

/// One element of a repeated field of messages.
struct MessageSeed(&'static Msg);

impl<'de> DeserializeSeed<'de> for MessageSeed {
    type Value = Vec<u8>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_map(MessageVisitor(self.0))
    }
}

/// One element of a repeated scalar field.
struct ScalarSeed<'o> {
    field: &'static Field,
    out: &'o mut Vec<u8>,
    packed: bool,
}

impl<'de> DeserializeSeed<'de> for ScalarSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a value in {}", camel(self.field.name))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        write_scalar(self.field, Scalar::Bool(v), self.out, self.packed)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        write_scalar(
            self.field,
            Scalar::Number(Number::U(v)),
            self.out,
            self.packed,
        )
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        write_scalar(
            self.field,
            Scalar::Number(Number::I(v)),
            self.out,
            self.packed,
        )
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        write_scalar(
            self.field,
            Scalar::Number(Number::F(v)),
            self.out,
            self.packed,
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        write_scalar(self.field, Scalar::Str(v), self.out, self.packed)
    }
}

#[derive(Clone, Copy)]
enum Number {
    U(u64),
    I(i64),
    F(f64),
}

#[derive(Clone, Copy)]
enum Scalar<'a> {
    Bool(bool),
    Number(Number),
    Str(&'a str),
}

/// Writes a scalar: as a field (tag first; a proto3 default left out unless the field has
/// presence or is an item of a repeated field) or, `packed`, as a bare value.
fn write_scalar<E: de::Error>(
    f: &Field,
    v: Scalar<'_>,
    out: &mut Vec<u8>,
    packed: bool,
) -> Result<(), E> {
    let always = f.card != Card::Single;
    let fail = |why: &dyn fmt::Display| E::custom(format_args!("{}: {why}", camel(f.name)));
    let header = |out: &mut Vec<u8>, wt: WireType| {
        if !packed {
            put_varint(out, tag(f.num, wt));
        }
    };
    match f.kind {
        Kind::Str | Kind::Base64 | Kind::Hex => {
            let Scalar::Str(text) = v else {
                return Err(fail(&"expected a string"));
            };
            let bytes = match f.kind {
                Kind::Base64 => base64_decode(text).ok_or_else(|| fail(&"invalid base64"))?,
                Kind::Hex => hex_decode(text).ok_or_else(|| fail(&"invalid hex"))?,
                _ => text.as_bytes().to_vec(),
            };
            if always || !bytes.is_empty() {
                put_len_header(out, f.num, bytes.len());
                out.extend_from_slice(&bytes);
            }
        }
        Kind::Bool => {
            let Scalar::Bool(b) = v else {
                return Err(fail(&"expected true or false"));
            };
            if always || b {
                header(out, WireType::Varint);
                put_varint(out, u64::from(b));
            }
        }
        Kind::Double => {
            let d = double(v).ok_or_else(|| fail(&"expected a number"))?;
            if always || d != 0.0 {
                header(out, WireType::I64);
                out.extend_from_slice(&d.to_le_bytes());
            }
        }
        Kind::Enum(by_name) => {
            let n = match v {
                Scalar::Str(name)
                    if !name.starts_with(|c: char| c == '-' || c.is_ascii_digit()) =>
                {
                    i64::from(
                        by_name(name)
                            .ok_or_else(|| fail(&format_args!("unknown value {name:?}")))?,
                    )
                }
                _ => integer(v, i64::from(i32::MIN), i128::from(i32::MAX))
                    .ok_or_else(|| fail(&"expected a 32-bit integer or a value's name"))?
                    as i64,
            };
            if always || n != 0 {
                header(out, WireType::Varint);
                put_varint(out, n as u64);
            }
        }
        Kind::Int32 | Kind::Uint32 | Kind::Sint32 | Kind::Fixed32 => {
            let (min, max) = match f.kind {
                Kind::Int32 | Kind::Sint32 => (i64::from(i32::MIN), i128::from(i32::MAX)),
                _ => (0, i128::from(u32::MAX)),
            };
            let n = integer(v, min, max).ok_or_else(|| fail(&"expected a 32-bit integer"))? as i64;
            if always || n != 0 {
                match f.kind {
                    Kind::Fixed32 => {
                        header(out, WireType::I32);
                        out.extend_from_slice(&(n as u32).to_le_bytes());
                    }
                    Kind::Sint32 => {
                        header(out, WireType::Varint);
                        let n = n as i32;
                        put_varint(out, u64::from(((n << 1) ^ (n >> 31)) as u32));
                    }
                    // int32: negative values are sign-extended to ten bytes, as prost does.
                    _ => {
                        header(out, WireType::Varint);
                        put_varint(out, n as u64);
                    }
                }
            }
        }
        Kind::Int64 | Kind::Sfixed64 => {
            let n = integer(v, i64::MIN, i128::from(i64::MAX))
                .ok_or_else(|| fail(&"expected a 64-bit integer"))? as i64;
            if always || n != 0 {
                if let Kind::Sfixed64 = f.kind {
                    header(out, WireType::I64);
                    out.extend_from_slice(&n.to_le_bytes());
                } else {
                    header(out, WireType::Varint);
                    put_varint(out, n as u64);
                }
            }
        }
        Kind::Uint64 | Kind::Fixed64 => {
            let n = integer(v, 0, i128::from(u64::MAX))
                .ok_or_else(|| fail(&"expected an unsigned 64-bit integer"))?
                as u64;
            if always || n != 0 {
                if let Kind::Fixed64 = f.kind {
                    header(out, WireType::I64);
                    out.extend_from_slice(&n.to_le_bytes());
                } else {
                    header(out, WireType::Varint);
                    put_varint(out, n);
                }
            }
        }
        Kind::Message(_) => return Err(fail(&"expected an object")),
    }
    Ok(())
}

/// An integer in `min..=max` from a JSON number or a decimal string (an integral float such
/// as `1e3` or `2.0` counts).
fn integer(v: Scalar<'_>, min: i64, max: i128) -> Option<i128> {
    let n: i128 = match v {
        Scalar::Number(Number::U(u)) => i128::from(u),
        Scalar::Number(Number::I(i)) => i128::from(i),
        Scalar::Number(Number::F(d)) => integral(d)?,
        Scalar::Str(s) => match s.parse::<i128>() {
            Ok(n) => n,
            Err(_) => integral(decimal(s)?)?,
        },
        Scalar::Bool(_) => return None,
    };
    (n >= i128::from(min) && n <= max).then_some(n)
}

fn integral(d: f64) -> Option<i128> {
    // Exact below 2^64 in magnitude; beyond that no 64-bit field can hold it anyway.
    (d.is_finite() && d.fract() == 0.0 && d.abs() < 18_446_744_073_709_551_616.0)
        .then_some(d as i128)
}

/// A double from a number, a decimal string, or proto3's names of the non-finite values.
fn double(v: Scalar<'_>) -> Option<f64> {
    match v {
        Scalar::Number(Number::U(u)) => Some(u as f64),
        Scalar::Number(Number::I(i)) => Some(i as f64),
        Scalar::Number(Number::F(d)) => Some(d),
        Scalar::Str("NaN") => Some(f64::NAN),
        Scalar::Str("Infinity") => Some(f64::INFINITY),
        Scalar::Str("-Infinity") => Some(f64::NEG_INFINITY),
        Scalar::Str(s) => decimal(s),
        Scalar::Bool(_) => None,
    }
}

/// A finite decimal number in JSON's syntax; Rust's parser alone would also take `inf`,
/// `nan` and `+1`.
fn decimal(s: &str) -> Option<f64> {
    let body = s.strip_prefix('-').unwrap_or(s);
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    s.parse::<f64>().ok().filter(|d| d.is_finite())
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    digits
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some((nibble(*hi)? << 4) | nibble(*lo)?),
            _ => None,
        })
        .collect()
}

/// Standard or URL-safe alphabet, padded or not, as proto3 JSON readers accept.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::engine::DecodePaddingMode;
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);
    STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .ok()
}
