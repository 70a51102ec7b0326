//! `IsInCIDR` (networks parsed once at compile time) and `IsValidLuhn`.

use std::net::IpAddr;

use super::{Data, Func};
use crate::error::EvalError;
use crate::eval::{Env, Eval, Val};
use crate::program::Call;
use crate::value::Value;

/// An IPv4 or IPv6 network, as Go's `net.ParseCIDR` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = s.split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        // Go rejects signs and leading zeros are fine; the prefix is a plain decimal number.
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let prefix: u8 = prefix.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => masked(
                u128::from(u32::from(net)),
                u128::from(u32::from(ip)),
                self.prefix,
                32,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), u128::from(ip), self.prefix, 128)
            }
            // Go's IPNet.Contains matches IPv4-mapped IPv6 addresses against IPv4 networks.
            (IpAddr::V4(net), IpAddr::V6(ip)) => ip.to_ipv4_mapped().is_some_and(|v4| {
                masked(
                    u128::from(u32::from(net)),
                    u128::from(u32::from(v4)),
                    self.prefix,
                    32,
                )
            }),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

fn masked(net: u128, ip: u128, prefix: u8, bits: u8) -> bool {
    let shift = u32::from(bits - prefix.min(bits));
    let (a, b) = (
        net.checked_shr(shift).unwrap_or(0),
        ip.checked_shr(shift).unwrap_or(0),
    );
    a == b
}

pub(crate) fn call<'a, E: Env<'a>>(
    ev: &Eval<'a, E>,
    call: &'a Call,
) -> Result<Val<'a, E>, EvalError> {
    match call.def.func {
        Func::IsInCidr => {
            let target = ev.arg_str(call, 0)?;
            let Data::Cidrs(networks) = &call.data else {
                return Ok(Value::Bool(false));
            };
            // An unparseable address is in no network.
            let Ok(ip) = target.parse::<IpAddr>() else {
                return Ok(Value::Bool(false));
            };
            Ok(Value::Bool(networks.iter().any(|n| n.contains(ip))))
        }
        _ => {
            let digits: Vec<u8> = match ev.arg(call, 0)? {
                Value::Str(s) => {
                    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(EvalError::invalid(
                            "IsValidLuhn",
                            "value must contain only digits",
                        ));
                    }
                    s.bytes().map(|b| b - b'0').collect()
                }
                Value::Int(i) if i >= 0 => i.to_string().bytes().map(|b| b - b'0').collect(),
                Value::Int(_) => {
                    return Err(EvalError::invalid(
                        "IsValidLuhn",
                        "value must not be negative",
                    ));
                }
                v => {
                    return Err(EvalError::ty(
                        "IsValidLuhn",
                        format!("expected string or int64 but got {}", v.type_name()),
                    ));
                }
            };
            Ok(Value::Bool(luhn(&digits)))
        }
    }
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_membership() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.0.0.1".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("10.0.0.0").is_none());
        assert!(Cidr::parse("10.0.0.0/+8").is_none());
    }

    #[test]
    fn luhn_numbers() {
        assert!(luhn(&[1, 7, 8, 9, 3, 7, 2, 9, 9, 7, 4]));
        assert!(!luhn(&[1, 7, 8, 9, 3, 7, 2, 9, 9, 7, 5]));
    }
}
