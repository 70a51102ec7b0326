//! The converters conditions can call: their signatures (names, parameters, types, as in
//! `pkg/ottl/ottlfuncs/README.md`), compile-time data and run-time dispatch.
//!
//! Parameter kinds mirror the Go getter types: `StringGetter` insists on a string,
//! `StringLikeGetter` converts (bytes to hex, maps and lists to JSON, numbers and booleans to
//! their JSON text), `IntGetter` insists on an int, and so on. Literal parameters (`string` in Go,
//! such as `ConvertCase`'s case name) must be constants at compile time.

mod args;
mod collections;
mod convert;
mod format;
mod getters;
pub use getters::{go_float_to_int, parse_go_float};
mod hash;
pub(crate) mod json;
mod net;
mod strings;
mod time;

use regex::Regex;

use crate::error::EvalError;
use crate::eval::{Env, Eval, Val};
use crate::program::Call;
use crate::value::Ty;

pub(crate) use net::Cidr;
pub(crate) use strings::Case;

/// How a parameter takes its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `Getter`: any value.
    Any,
    /// `StringGetter`: must be a string.
    Str,
    /// `StringLikeGetter`: converted to a string; `nil` stays `nil`.
    StrLike,
    /// `IntGetter`: must be an int.
    Int,
    /// `FloatLikeGetter`: converted to a float.
    FloatLike,
    /// `ByteSliceLikeGetter`: converted to bytes.
    BytesLike,
    /// `TimeGetter`
    Time,
    /// `DurationGetter`
    Duration,
    /// `PMapGetter`
    Map,
    /// A slice getter (`PSliceGetter`).
    List,
    /// A `string` literal.
    LitStr,
    /// A `bool` literal.
    LitBool,
    /// A `[]string` of literals.
    LitStrs,
    /// A slice of getters: a list literal whose items are evaluated one by one, or any
    /// expression giving a list. The inner kind applies to each item.
    Items(ItemKind),
}

/// The kind of each item of a [`Kind::Items`] parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    Any,
    StrLike,
}

/// One parameter.
#[derive(Debug)]
pub(crate) struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub optional: bool,
}

/// A converter's definition.
#[derive(Debug)]
pub(crate) struct FuncDef {
    pub name: &'static str,
    pub func: Func,
    pub params: &'static [Param],
    /// The result type, or `Any` when it depends on the input.
    pub ret: Ty,
    /// Same arguments, same result: calls with constant arguments are folded at compile time.
    pub pure_: bool,
    /// Only valid in the `span` context.
    pub span_only: bool,
}

/// Work a converter does once, at compile time.
#[derive(Debug)]
pub(crate) enum Data {
    None,
    Regex(Regex),
    Cidrs(Vec<Cidr>),
    Case(Case),
    Base64(convert::Base64Variant),
}

/// Every supported converter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    IsBool,
    IsDouble,
    IsInt,
    IsString,
    IsMap,
    IsList,
    IsEmpty,
    IsMatch,
    Concat,
    ConvertCase,
    HasPrefix,
    HasSuffix,
    ToLowerCase,
    ToUpperCase,
    ToSnakeCase,
    ToCamelCase,
    Substring,
    Split,
    Trim,
    TrimPrefix,
    TrimSuffix,
    Format,
    ExtractPatterns,
    Len,
    Index,
    ContainsValue,
    Coalesce,
    Keys,
    Values,
    Int,
    Double,
    Bool,
    String,
    Hex,
    ParseInt,
    ParseJson,
    Base64Encode,
    Decode,
    Sha1,
    Sha256,
    Sha512,
    Md5,
    Fnv,
    TraceId,
    SpanId,
    IsRootSpan,
    Log,
    IsInCidr,
    IsValidLuhn,
    Now,
    Unix,
    UnixNano,
    UnixMicro,
    UnixMilli,
    UnixSeconds,
    Duration,
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    Minutes,
    Hours,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Nanosecond,
    Weekday,
    TruncateTime,
}

const fn p(name: &'static str, kind: Kind) -> Param {
    Param {
        name,
        kind,
        optional: false,
    }
}

const fn opt(name: &'static str, kind: Kind) -> Param {
    Param {
        name,
        kind,
        optional: true,
    }
}

const fn def(name: &'static str, func: Func, params: &'static [Param], ret: Ty) -> FuncDef {
    FuncDef {
        name,
        func,
        params,
        ret,
        pure_: true,
        span_only: false,
    }
}

const VALUE: &[Param] = &[p("value", Kind::Any)];
const TARGET_ANY: &[Param] = &[p("target", Kind::Any)];
const TARGET_STR: &[Param] = &[p("target", Kind::Str)];
const TIME: &[Param] = &[p("time", Kind::Time)];
const DURATION: &[Param] = &[p("duration", Kind::Duration)];

/// The converter table. Names and parameters follow `ottlfuncs/README.md`.
pub(crate) static FUNCS: &[FuncDef] = &[
    def("IsBool", Func::IsBool, VALUE, Ty::Bool),
    def("IsDouble", Func::IsDouble, VALUE, Ty::Bool),
    def("IsInt", Func::IsInt, VALUE, Ty::Bool),
    def("IsString", Func::IsString, VALUE, Ty::Bool),
    def("IsMap", Func::IsMap, VALUE, Ty::Bool),
    def("IsList", Func::IsList, VALUE, Ty::Bool),
    def("IsEmpty", Func::IsEmpty, VALUE, Ty::Bool),
    def(
        "IsMatch",
        Func::IsMatch,
        &[p("target", Kind::StrLike), p("pattern", Kind::Str)],
        Ty::Bool,
    ),
    def(
        "Concat",
        Func::Concat,
        &[
            p("vals", Kind::Items(ItemKind::StrLike)),
            p("delimiter", Kind::Str),
        ],
        Ty::Str,
    ),
    def(
        "ConvertCase",
        Func::ConvertCase,
        &[p("target", Kind::Str), p("to_case", Kind::LitStr)],
        Ty::Str,
    ),
    def(
        "HasPrefix",
        Func::HasPrefix,
        &[p("target", Kind::Str), p("prefix", Kind::Str)],
        Ty::Bool,
    ),
    def(
        "HasSuffix",
        Func::HasSuffix,
        &[p("target", Kind::Str), p("suffix", Kind::Str)],
        Ty::Bool,
    ),
    def("ToLowerCase", Func::ToLowerCase, TARGET_STR, Ty::Str),
    def("ToUpperCase", Func::ToUpperCase, TARGET_STR, Ty::Str),
    def("ToSnakeCase", Func::ToSnakeCase, TARGET_STR, Ty::Str),
    def("ToCamelCase", Func::ToCamelCase, TARGET_STR, Ty::Str),
    def(
        "Substring",
        Func::Substring,
        &[
            p("target", Kind::Str),
            p("start", Kind::Int),
            p("length", Kind::Int),
            opt("utf8_safe", Kind::LitBool),
        ],
        Ty::Str,
    ),
    def(
        "Split",
        Func::Split,
        &[p("target", Kind::Str), p("delimiter", Kind::Str)],
        Ty::List,
    ),
    def(
        "Trim",
        Func::Trim,
        &[p("target", Kind::Str), opt("replacement", Kind::LitStr)],
        Ty::Str,
    ),
    def(
        "TrimPrefix",
        Func::TrimPrefix,
        &[p("target", Kind::Str), p("prefix", Kind::Str)],
        Ty::Str,
    ),
    def(
        "TrimSuffix",
        Func::TrimSuffix,
        &[p("target", Kind::Str), p("suffix", Kind::Str)],
        Ty::Str,
    ),
    def(
        "Format",
        Func::Format,
        &[
            p("format", Kind::Str),
            p("vals", Kind::Items(ItemKind::Any)),
        ],
        Ty::Str,
    ),
    def(
        "ExtractPatterns",
        Func::ExtractPatterns,
        &[p("target", Kind::Str), p("pattern", Kind::LitStr)],
        Ty::Map,
    ),
    def("Len", Func::Len, TARGET_ANY, Ty::Int),
    def(
        "Index",
        Func::Index,
        &[p("target", Kind::Any), p("value", Kind::Any)],
        Ty::Int,
    ),
    def(
        "ContainsValue",
        Func::ContainsValue,
        &[p("target", Kind::List), p("item", Kind::Any)],
        Ty::Bool,
    ),
    def(
        "Coalesce",
        Func::Coalesce,
        &[p("values", Kind::Items(ItemKind::Any))],
        Ty::Any,
    ),
    def("Keys", Func::Keys, &[p("target", Kind::Map)], Ty::List),
    def("Values", Func::Values, &[p("target", Kind::Map)], Ty::List),
    def("Int", Func::Int, TARGET_ANY, Ty::Any),
    def("Double", Func::Double, TARGET_ANY, Ty::Any),
    def("Bool", Func::Bool, TARGET_ANY, Ty::Any),
    def(
        "String",
        Func::String,
        &[p("target", Kind::StrLike)],
        Ty::Any,
    ),
    def("Hex", Func::Hex, &[p("target", Kind::BytesLike)], Ty::Any),
    def(
        "ParseInt",
        Func::ParseInt,
        &[p("target", Kind::Str), p("base", Kind::Int)],
        Ty::Int,
    ),
    def("ParseJSON", Func::ParseJson, TARGET_STR, Ty::Any),
    def(
        "Base64Encode",
        Func::Base64Encode,
        &[p("target", Kind::Str), opt("variant", Kind::LitStr)],
        Ty::Str,
    ),
    def(
        "Decode",
        Func::Decode,
        &[p("target", Kind::Any), p("encoding", Kind::LitStr)],
        Ty::Str,
    ),
    def("SHA1", Func::Sha1, TARGET_STR, Ty::Str),
    def("SHA256", Func::Sha256, TARGET_STR, Ty::Str),
    def("SHA512", Func::Sha512, TARGET_STR, Ty::Str),
    def("MD5", Func::Md5, TARGET_STR, Ty::Str),
    def("FNV", Func::Fnv, TARGET_STR, Ty::Any),
    def(
        "TraceID",
        Func::TraceId,
        &[p("target", Kind::Any)],
        Ty::TraceId,
    ),
    def(
        "SpanID",
        Func::SpanId,
        &[p("target", Kind::Any)],
        Ty::SpanId,
    ),
    FuncDef {
        name: "IsRootSpan",
        func: Func::IsRootSpan,
        params: &[],
        ret: Ty::Bool,
        pure_: false,
        span_only: true,
    },
    def("Log", Func::Log, &[p("value", Kind::FloatLike)], Ty::Double),
    def(
        "IsInCIDR",
        Func::IsInCidr,
        &[p("target", Kind::Str), p("networks", Kind::LitStrs)],
        Ty::Bool,
    ),
    def("IsValidLuhn", Func::IsValidLuhn, VALUE, Ty::Bool),
    FuncDef {
        name: "Now",
        func: Func::Now,
        params: &[],
        ret: Ty::Time,
        pure_: false,
        span_only: false,
    },
    def(
        "Unix",
        Func::Unix,
        &[p("seconds", Kind::Int), opt("nanoseconds", Kind::Int)],
        Ty::Time,
    ),
    def("UnixNano", Func::UnixNano, TIME, Ty::Int),
    def("UnixMicro", Func::UnixMicro, TIME, Ty::Int),
    def("UnixMilli", Func::UnixMilli, TIME, Ty::Int),
    def("UnixSeconds", Func::UnixSeconds, TIME, Ty::Int),
    def(
        "Duration",
        Func::Duration,
        &[p("duration", Kind::Str)],
        Ty::Duration,
    ),
    def("Nanoseconds", Func::Nanoseconds, DURATION, Ty::Int),
    def("Microseconds", Func::Microseconds, DURATION, Ty::Int),
    def("Milliseconds", Func::Milliseconds, DURATION, Ty::Int),
    def("Seconds", Func::Seconds, DURATION, Ty::Double),
    def("Minutes", Func::Minutes, DURATION, Ty::Double),
    def("Hours", Func::Hours, DURATION, Ty::Double),
    def("Year", Func::Year, TIME, Ty::Int),
    def("Month", Func::Month, TIME, Ty::Int),
    def("Day", Func::Day, TIME, Ty::Int),
    def("Hour", Func::Hour, TIME, Ty::Int),
    def("Minute", Func::Minute, TIME, Ty::Int),
    def("Second", Func::Second, TIME, Ty::Int),
    def("Nanosecond", Func::Nanosecond, TIME, Ty::Int),
    def("Weekday", Func::Weekday, TIME, Ty::Int),
    def(
        "TruncateTime",
        Func::TruncateTime,
        &[p("time", Kind::Time), p("duration", Kind::Duration)],
        Ty::Time,
    ),
];

/// Converters of the real OTTL that this implementation does not provide, so the error can
/// say so rather than call them unknown.
pub(crate) const UNSUPPORTED: &[&str] = &[
    "All",
    "Any",
    "Base64Decode",
    "CommunityID",
    "ConvertAttributesToElementsXML",
    "ConvertTextToElementsXML",
    "ExtractGrokPatterns",
    "Filter",
    "Find",
    "FormatTime",
    "GetXML",
    "InsertXML",
    "MapEach",
    "MapKeys",
    "Murmur3Hash",
    "Murmur3Hash128",
    "ParseCSV",
    "ParseKeyValue",
    "ParseSeverity",
    "ParseSimplifiedXML",
    "ParseXML",
    "ProfileID",
    "Reduce",
    "RemoveXML",
    "SliceToMap",
    "Sort",
    "Time",
    "ToKeyValueString",
    "URL",
    "UserAgent",
    "UUID",
    "UUIDv7",
    "When",
    "XXH3",
    "XXH128",
];

/// Looks a converter up by name.
pub(crate) fn lookup(name: &str) -> Option<&'static FuncDef> {
    FUNCS.iter().find(|d| d.name == name)
}

/// The names of every supported converter, sorted.
pub fn supported_converters() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = FUNCS.iter().map(|d| d.name).collect();
    names.sort_unstable();
    names
}

/// Runs a converter call.
pub(crate) fn call<'a, E: Env<'a>>(
    ev: &Eval<'a, E>,
    call: &'a Call,
) -> Result<Val<'a, E>, EvalError> {
    use Func::*;
    match call.def.func {
        IsBool | IsDouble | IsInt | IsString | IsMap | IsList | IsEmpty => {
            convert::is_type(ev, call)
        }
        IsMatch | Concat | ConvertCase | HasPrefix | HasSuffix | ToLowerCase | ToUpperCase
        | ToSnakeCase | ToCamelCase | Substring | Split | Trim | TrimPrefix | TrimSuffix
        | ExtractPatterns => strings::call(ev, call),
        Format => format::call(ev, call),
        Len | Index | ContainsValue | Coalesce | Keys | Values => collections::call(ev, call),
        Int | Double | Bool | String | Hex | ParseInt | Base64Encode | Decode | TraceId
        | SpanId | IsRootSpan | Log => convert::call(ev, call),
        ParseJson => json::parse_json(ev, call),
        Sha1 | Sha256 | Sha512 | Md5 | Fnv => hash::call(ev, call),
        IsInCidr | IsValidLuhn => net::call(ev, call),
        Now | Unix | UnixNano | UnixMicro | UnixMilli | UnixSeconds | Duration | Nanoseconds
        | Microseconds | Milliseconds | Seconds | Minutes | Hours | Year | Month | Day | Hour
        | Minute | Second | Nanosecond | Weekday | TruncateTime => time::call(ev, call),
    }
}

/// Compile-time preparation of a call whose literal arguments are known: compiles regexes,
/// parses CIDRs and case names. `lit(i)` gives the constant string at parameter `i`, if any.
pub(crate) fn prepare(
    func: Func,
    lit: impl Fn(usize) -> Option<String>,
    lits: impl Fn(usize) -> Option<Vec<String>>,
) -> Result<Data, (usize, String)> {
    match func {
        Func::IsMatch => match lit(1) {
            Some(pattern) => crate::regex_go::compile(&pattern)
                .map(Data::Regex)
                .map_err(|e| {
                    (
                        1,
                        format!(
                            "the pattern supplied to IsMatch is not a valid regexp pattern: {e}"
                        ),
                    )
                }),
            None => Ok(Data::None),
        },
        Func::ExtractPatterns => {
            let pattern = lit(1).unwrap_or_default();
            let re = crate::regex_go::compile(&pattern).map_err(|e| {
                (
                    1,
                    format!("the pattern supplied to ExtractPatterns is not a valid pattern: {e}"),
                )
            })?;
            if !re.capture_names().flatten().any(|n| !n.is_empty()) {
                return Err((
                    1,
                    "at least 1 named capture group must be supplied in the given regex".into(),
                ));
            }
            Ok(Data::Regex(re))
        }
        Func::ConvertCase => Case::parse(&lit(1).unwrap_or_default())
            .map(Data::Case)
            .map_err(|m| (1, m)),
        Func::IsInCidr => {
            let networks = lits(1).unwrap_or_default();
            networks
                .iter()
                .map(|n| Cidr::parse(n).ok_or_else(|| (1, format!("invalid CIDR network {n:?}"))))
                .collect::<Result<Vec<_>, _>>()
                .map(Data::Cidrs)
        }
        Func::Base64Encode => match lit(1) {
            Some(v) => convert::Base64Variant::parse(&v)
                .map(Data::Base64)
                .map_err(|m| (1, m)),
            None => Ok(Data::Base64(convert::Base64Variant::Std)),
        },
        Func::Decode => convert::Base64Variant::parse_encoding(&lit(1).unwrap_or_default())
            .map(Data::Base64)
            .map_err(|m| (1, m)),
        _ => Ok(Data::None),
    }
}
