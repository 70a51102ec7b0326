//! Digest converters: `SHA1`, `SHA256`, `SHA512`, `MD5` (lowercase hex, as Go's
//! `hex.EncodeToString(sum)`), and `FNV` (64-bit FNV-1a as a signed int64).

use std::borrow::Cow;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::Func;
use crate::error::EvalError;
use crate::eval::{Env, Eval, Val, hex};
use crate::program::Call;
use crate::value::Value;

pub(crate) fn call<'a, E: Env<'a>>(
    ev: &Eval<'a, E>,
    call: &'a Call,
) -> Result<Val<'a, E>, EvalError> {
    let input = ev.arg_str(call, 0)?;
    let bytes = input.as_bytes();
    let digest = match call.def.func {
        Func::Sha1 => hex(&Sha1::digest(bytes)),
        Func::Sha256 => hex(&Sha256::digest(bytes)),
        Func::Sha512 => hex(&Sha512::digest(bytes)),
        Func::Md5 => hex(&Md5::digest(bytes)),
        // Go's FNV returns its (empty string) input unchanged for "".
        _ if bytes.is_empty() => return Ok(Value::Str(Cow::Borrowed(""))),
        _ => return Ok(Value::Int(fnv1a64(bytes) as i64)),
    };
    Ok(Value::Str(Cow::Owned(digest)))
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            hex(&Sha256::digest(b"name")),
            "82a3537ff0dbce7eec35d69edc3a189ee6f17d82f353a553f9aa96cb0be3ce89"
        );
        assert_eq!(
            hex(&Sha1::digest(b"name")),
            "6ae999552a0d2dca14d62e2bc8b764d377b1dd6c"
        );
        assert_eq!(
            hex(&Md5::digest(b"name")),
            "b068931cc450442b63f5b3d276ea4297"
        );
        // Go: fnv.New64a() over "name".
        assert_eq!(fnv1a64(b"name") as i64, -4270347329889690746);
    }
}
