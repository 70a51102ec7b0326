//! Consistent probability sampling (OpenTelemetry's tracestate probability sampling, OTEP
//! 235): 56-bit thresholds and randomness, the `ot` member of the W3C `tracestate`
//! (`th:` threshold, `rv:` explicit randomness), and the Collector's legacy FNV hash — with
//! the arithmetic of `pkg/sampling` in opentelemetry-collector-contrib, so every replica and
//! every Collector make the same decision for a trace.

/// 2^56: the number of randomness values.
pub const MAX_ADJUSTED_COUNT: u64 = 1 << 56;
/// Hex digits of a full threshold.
pub const NUM_HEX_DIGITS: usize = 14;
/// The smallest representable probability.
pub const MIN_PROBABILITY: f64 = 1.0 / MAX_ADJUSTED_COUNT as f64;

/// Rejection threshold: items with randomness `>= threshold` are sampled. 0 samples all;
/// [`Threshold::NEVER`] samples none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Threshold(pub u64);

/// 56 bits of randomness, from the trace id or an explicit `rv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Randomness(pub u64);

impl Threshold {
    /// 100 % sampling.
    pub const ALWAYS: Threshold = Threshold(0);
    /// 0 % sampling.
    pub const NEVER: Threshold = Threshold(MAX_ADJUSTED_COUNT);

    /// The `th` encoding: up to 14 hex digits, trailing zeros removed; `0` for always.
    pub fn tvalue(self) -> String {
        if self == Threshold::ALWAYS {
            return "0".into();
        }
        if self.0 >= MAX_ADJUSTED_COUNT {
            return String::new();
        }
        let full = format!("{:014x}", self.0);
        full.trim_end_matches('0').to_owned()
    }

    /// Parses a `th` value.
    pub fn parse(s: &str) -> Result<Threshold, &'static str> {
        if s.len() > NUM_HEX_DIGITS {
            return Err("t-value exceeds 14 hex digits");
        }
        if s.is_empty() {
            return Err("t-value is empty");
        }
        let v = parse_hex(s).ok_or("invalid syntax")?;
        Ok(Threshold(v << (4 * (NUM_HEX_DIGITS - s.len()))))
    }

    /// Whether an item with `r` is sampled.
    pub fn should_sample(self, r: Randomness) -> bool {
        self.0 <= r.0
    }

    /// The sampling probability.
    pub fn probability(self) -> f64 {
        (MAX_ADJUSTED_COUNT.saturating_sub(self.0)) as f64 / MAX_ADJUSTED_COUNT as f64
    }

    /// `ProbabilityToThresholdWithPrecision`: the threshold for `fraction`, rounded to
    /// `precision` hex digits (more near 0 and 1 to keep the relative error small).
    pub fn from_probability(fraction: f64, precision: usize) -> Option<Threshold> {
        let precision = if precision == 0 {
            NUM_HEX_DIGITS
        } else {
            precision
        };
        if !(MIN_PROBABILITY..=1.0).contains(&fraction) {
            return None;
        }
        if fraction == 1.0 {
            return Some(Threshold::ALWAYS);
        }
        let exp_f = frexp_exp(fraction);
        let exp_r = frexp_exp(1.0 - fraction);
        let extra_f = (precision as i64 + i64::from(exp_f) / -4).max(0) as usize;
        let extra_r = (precision as i64 + i64::from(exp_r) / -4).max(0) as usize;
        let precision = NUM_HEX_DIGITS.min(extra_f.max(extra_r));
        let scaled = (fraction * MAX_ADJUSTED_COUNT as f64).round() as u64;
        let mut threshold = MAX_ADJUSTED_COUNT - scaled.min(MAX_ADJUSTED_COUNT);
        let shift = 4 * (NUM_HEX_DIGITS - precision);
        if shift != 0 {
            let half = 1u64 << (shift - 1);
            threshold += half;
            threshold >>= shift;
            threshold <<= shift;
        }
        Some(Threshold(threshold))
    }
}

impl Randomness {
    /// All probabilities sample it (the placeholder for missing randomness).
    pub const ALL: Randomness = Randomness(MAX_ADJUSTED_COUNT - 1);

    /// The W3C Trace Context level 2 randomness: the trace id's last 7 bytes.
    pub fn from_trace_id(id: &[u8; 16]) -> Randomness {
        let low =
            u64::from_be_bytes([id[8], id[9], id[10], id[11], id[12], id[13], id[14], id[15]]);
        Randomness(low & (MAX_ADJUSTED_COUNT - 1))
    }

    /// Parses an `rv` value (exactly 14 hex digits).
    pub fn parse(s: &str) -> Result<Randomness, &'static str> {
        if s.len() != NUM_HEX_DIGITS {
            return Err("r-value must have 14 hex digits");
        }
        parse_hex(s).map(Randomness).ok_or("invalid syntax")
    }

    /// The `rv` encoding: 14 hex digits.
    pub fn rvalue(self) -> String {
        format!("{:014x}", self.0 & (MAX_ADJUSTED_COUNT - 1))
    }
}

fn parse_hex(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        let d = (b as char).to_digit(16)?;
        acc.checked_mul(16)?.checked_add(u64::from(d))
    })
}

/// The exponent of Go's `math.Frexp(x)` (x = frac · 2^exp, frac in [0.5, 1)), for x > 0.
fn frexp_exp(x: f64) -> i32 {
    if x == 0.0 || !x.is_finite() {
        return 0;
    }
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: normalise first.
        return frexp_exp(x * f64::from_bits(0x4350_0000_0000_0000)) - 54;
    }
    exp - 1022
}

/// FNV-1a (32 bits) over the seed's 4 little-endian bytes, then `data`.
pub fn fnv32a(seed: u32, data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in seed.to_le_bytes().iter().chain(data) {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Hash buckets of the legacy mode (14 bits).
pub const NUM_HASH_BUCKETS: u32 = 0x4000;

/// The legacy mode's randomness: the 14-bit FNV bucket of the trace id, laid out so that
/// `threshold <= randomness` is the original `bucket < scaled rate` test.
pub fn hash_randomness(trace_id: &[u8; 16], seed: u32) -> Randomness {
    let hashed32 = fnv32a(seed, trace_id);
    let hashed = u64::from(hashed32 & (NUM_HASH_BUCKETS - 1));
    let rprime14 = u64::from(NUM_HASH_BUCKETS) - 1 - hashed;
    let unused18 = u64::from(hashed32 >> 14);
    let mixed28 = unused18 ^ (unused18 << 10);
    Randomness(((rprime14 << 42) | (mixed28 << 14) | hashed) & (MAX_ADJUSTED_COUNT - 1))
}

/// The `ot` member of a tracestate: `rv`, `th` and other sub-keys in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtelState {
    /// `rv`, as written.
    pub rv: Option<(String, Randomness)>,
    /// `th`, as written.
    pub th: Option<(String, Threshold)>,
    /// Other sub-keys.
    pub extra: Vec<(String, String)>,
}

/// A W3C tracestate with its `ot` member parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceState {
    /// The `ot` member.
    pub ot: OtelState,
    /// The other members, in order.
    pub members: Vec<(String, String)>,
}

fn is_w3c_key(k: &str) -> bool {
    let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-*/".contains(&c);
    let simple = |k: &str, max: usize| {
        let b = k.as_bytes();
        b.first().is_some_and(u8::is_ascii_lowercase) && b.len() <= max && b.iter().all(|&c| ok(c))
    };
    match k.split_once('@') {
        None => simple(k, 256),
        Some((tenant, system)) => {
            let t = tenant.as_bytes();
            t.first()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && t.len() <= 241
                && t.iter().all(|&c| ok(c))
                && simple(system, 14)
        }
    }
}

fn is_w3c_value(v: &str) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && b.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
        && b.last().is_some_and(|&c| c != b' ')
}

impl TraceState {
    /// Parses a tracestate; an error means the sampler treats the span as erroneous
    /// (`fail_closed`).
    pub fn parse(input: &str) -> Result<TraceState, String> {
        if input.len() > 1024 {
            return Err("invalid tracestate size".into());
        }
        let mut ts = TraceState::default();
        let mut first_error: Option<String> = None;
        let mut count = 0;
        for member in input.split(',') {
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            count += 1;
            if count > 32 {
                return Err("invalid tracestate item count".into());
            }
            let (k, v) = member.split_once('=').ok_or("invalid syntax")?;
            if !is_w3c_key(k) || !is_w3c_value(v) {
                return Err("invalid syntax".into());
            }
            if k == "ot" {
                if let Err(e) = ts.parse_ot(v) {
                    first_error.get_or_insert(e);
                }
            } else {
                ts.members.push((k.to_owned(), v.to_owned()));
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(ts),
        }
    }

    fn parse_ot(&mut self, v: &str) -> Result<(), String> {
        if v.len() > 256 {
            return Err("invalid tracestate size".into());
        }
        // key ":" value (";" key ":" value)*, key = [a-z][a-z0-9]*, value = [a-zA-Z0-9._-]*
        let mut parsed = Vec::new();
        for part in v.split(';') {
            let (k, val) = part.split_once(':').ok_or("invalid syntax")?;
            let kb = k.as_bytes();
            let key_ok = kb.first().is_some_and(u8::is_ascii_lowercase)
                && kb
                    .iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            let val_ok = val
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c));
            if !key_ok || !val_ok {
                return Err("invalid syntax".into());
            }
            parsed.push((k, val));
        }
        let mut error = None;
        for (k, val) in parsed {
            match k {
                "rv" => match Randomness::parse(val) {
                    Ok(r) => self.ot.rv = Some((val.to_owned(), r)),
                    Err(e) => {
                        self.ot.rv = None;
                        error.get_or_insert(e.to_owned());
                    }
                },
                "th" => match Threshold::parse(val) {
                    Ok(t) => self.ot.th = Some((val.to_owned(), t)),
                    Err(e) => {
                        self.ot.th = None;
                        error.get_or_insert(e.to_owned());
                    }
                },
                _ => self.ot.extra.push((k.to_owned(), val.to_owned())),
            }
        }
        error.map_or(Ok(()), Err)
    }

    /// Serializes: the `ot` member first (`rv`, `th`, then other sub-keys), then the other
    /// members in their order — the Collector's serialization.
    pub fn serialize(&self) -> String {
        let mut ot = Vec::new();
        if let Some((s, _)) = &self.ot.rv {
            ot.push(format!("rv:{s}"));
        }
        if let Some((s, _)) = &self.ot.th {
            ot.push(format!("th:{s}"));
        }
        for (k, v) in &self.ot.extra {
            ot.push(format!("{k}:{v}"));
        }
        let mut members = Vec::new();
        if !ot.is_empty() {
            members.push(format!("ot={}", ot.join(";")));
        }
        for (k, v) in &self.members {
            members.push(format!("{k}={v}"));
        }
        members.join(",")
    }

    /// Lowers the sampling probability to `t`; refused (no change) when it would raise it.
    pub fn update_threshold(&mut self, t: Threshold) -> bool {
        if let Some((_, cur)) = self.ot.th
            && cur > t
        {
            return false;
        }
        self.ot.th = Some((t.tvalue(), t));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_from_probabilities() {
        for (p, precision, want) in [
            (1.0, 4, "0"),
            (0.5, 4, "8"),
            (0.25, 4, "c"),
            (0.01, 0, "fd70a3d70a3d71"),
            (0.01, 4, "fd70a"),
            (0.01, 3, "fd71"),
            (0.4, 3, "99a"),
            (0.6, 4, "6666"),
            (0.4, 6, "99999a"),
            (0.2, 6, "cccccd"),
            // The Collector reads percentages as float32.
            (
                f64::from((1.0f32 - 8e-7) * 100.0) / 100.0,
                10,
                "00000cccccccd",
            ),
        ] {
            assert_eq!(
                Threshold::from_probability(p, precision).unwrap().tvalue(),
                want,
                "{p} {precision}"
            );
        }
        assert_eq!(Threshold::from_probability(0.0, 4), None);
        assert_eq!(Threshold::from_probability(1.5, 4), None);
    }

    #[test]
    fn tvalues_parse_and_compare() {
        assert_eq!(
            Threshold::parse("8").unwrap(),
            Threshold(0x80_0000_0000_0000)
        );
        assert_eq!(Threshold::parse("80000000000000").unwrap().tvalue(), "8");
        assert_eq!(Threshold::parse("0").unwrap(), Threshold::ALWAYS);
        assert!(Threshold::parse("abababababababab").is_err());
        assert!(Threshold::parse("-1").is_err());
        assert!(Threshold::parse("").is_err());
        assert_eq!(
            Randomness::parse("FD70A3D70A3D71").unwrap(),
            Randomness(0xfd70a3d70a3d71)
        );
        assert!(Randomness::parse("abababababababab").is_err());
        let r = Randomness::from_trace_id(&[
            0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
        ]);
        assert_eq!(r, Randomness(0x80_0000_0000_0000));
        assert!(
            Threshold::from_probability(0.5, 4)
                .unwrap()
                .should_sample(r)
        );
        assert!(
            !Threshold::from_probability(0.49, 4)
                .unwrap()
                .should_sample(r)
        );
    }

    #[test]
    fn fnv_matches_go() {
        // The Collector's TestEmptyHashFunction.
        assert_eq!(fnv32a(0, &[]) & 0x3fff, 0x3515);
        assert_eq!(fnv32a(0, &[0; 16]) & 0x3fff, 0x2455);
    }

    #[test]
    fn tracestates() {
        let ts = TraceState::parse("vendor=value, ot=th:1;x:y ,other=1").unwrap();
        assert_eq!(ts.ot.th.as_ref().unwrap().1, Threshold(0x10_0000_0000_0000));
        assert_eq!(ts.serialize(), "ot=th:1;x:y,vendor=value,other=1");
        let mut ts = TraceState::parse("ot=rv:FD70A3D70A3D71").unwrap();
        assert!(ts.update_threshold(Threshold::from_probability(0.01, 0).unwrap()));
        assert_eq!(ts.serialize(), "ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71");
        let mut ts = TraceState::parse("ot=th:8").unwrap();
        assert!(
            !ts.update_threshold(Threshold::ALWAYS),
            "cannot raise the probability"
        );
        assert!(ts.update_threshold(Threshold::from_probability(0.25, 4).unwrap()));
        assert_eq!(ts.serialize(), "ot=th:c");
        assert!(TraceState::parse("ot=rv:abababababababab").is_err());
        assert!(TraceState::parse("ot=th:-1").is_err());
        assert!(TraceState::parse("Bad=1").is_err());
        assert!(TraceState::parse("a=b=c").is_err());
        assert_eq!(TraceState::parse("").unwrap(), TraceState::default());
    }
}
