//! htpasswd files, as Apache's `htpasswd` writes them and the Collector's `basicauth` reads
//! them: `user:hash` per line, with bcrypt (`$2y$`, `$2a$`, `$2b$`), MD5-crypt (`$apr1$`,
//! `$1$`), SHA-1 (`{SHA}`) or — in `inline` configs — the plain password.

use crate::config::secret::constant_time_eq;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};

/// One user's stored password.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// The user name.
    pub user: String,
    hash: String,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Entry {{ user: {:?}, hash: [REDACTED] }}", self.user)
    }
}

/// Parses htpasswd text; blank lines and `#` comments are skipped. Errors name the line, never
/// its content.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (user, hash) = line
            .split_once(':')
            .ok_or_else(|| format!("line {}: expected user:password", i + 1))?;
        if user.is_empty() {
            return Err(format!("line {}: empty user name", i + 1));
        }
        out.push(Entry {
            user: user.to_owned(),
            hash: hash.to_owned(),
        });
    }
    Ok(out)
}

impl Entry {
    /// Whether `password` matches.
    pub fn verify(&self, password: &str) -> bool {
        let h = &self.hash;
        if h.starts_with("$2y$") || h.starts_with("$2a$") || h.starts_with("$2b$") {
            return bcrypt::verify(password, h).unwrap_or(false);
        }
        for magic in ["$apr1$", "$1$"] {
            if let Some(rest) = h.strip_prefix(magic) {
                let salt = rest.split('$').next().unwrap_or("");
                return constant_time_eq(md5_crypt(password, salt, magic).as_bytes(), h.as_bytes());
            }
        }
        if let Some(b64) = h.strip_prefix("{SHA}") {
            let mut d = sha1::Sha1::new();
            d.update(password.as_bytes());
            return constant_time_eq(STANDARD.encode(d.finalize()).as_bytes(), b64.as_bytes());
        }
        constant_time_eq(password.as_bytes(), h.as_bytes())
    }
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn to64(out: &mut String, mut v: u32, n: usize) {
    for _ in 0..n {
        out.push(char::from(
            ITOA64.get((v & 0x3f) as usize).copied().unwrap_or(b'.'),
        ));
        v >>= 6;
    }
}

/// The MD5-crypt hash (`$1$` and Apache's `$apr1$` differ only in the magic string).
fn md5_crypt(password: &str, salt: &str, magic: &str) -> String {
    let pw = password.as_bytes();
    let salt: String = salt.chars().take(8).collect();
    let s = salt.as_bytes();
    let alt = Md5::new()
        .chain_update(pw)
        .chain_update(s)
        .chain_update(pw)
        .finalize();
    let mut ctx = Md5::new()
        .chain_update(pw)
        .chain_update(magic.as_bytes())
        .chain_update(s);
    let mut left = pw.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(alt.get(..n).unwrap_or_default());
        left -= n;
    }
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(pw.get(..1).unwrap_or_default());
        }
        i >>= 1;
    }
    let mut fin = ctx.finalize();
    for r in 0..1000 {
        let mut c = Md5::new();
        if r & 1 == 1 {
            c.update(pw);
        } else {
            c.update(fin);
        }
        if r % 3 != 0 {
            c.update(s);
        }
        if r % 7 != 0 {
            c.update(pw);
        }
        if r & 1 == 1 {
            c.update(fin);
        } else {
            c.update(pw);
        }
        fin = c.finalize();
    }
    let f: [u8; 16] = fin.into();
    let b = |i: usize| u32::from(f.get(i).copied().unwrap_or(0));
    let mut out = format!("{magic}{salt}$");
    for (a, m, z) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        to64(&mut out, (b(a) << 16) | (b(m) << 8) | b(z), 4);
    }
    to64(&mut out, b(11), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_crypt_matches_openssl() {
        // `openssl passwd -1 -salt saltsalt password`, `openssl passwd -apr1 -salt abcdefgh 'p@ss word'`
        assert_eq!(
            md5_crypt("password", "saltsalt", "$1$"),
            "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"
        );
        assert_eq!(
            md5_crypt("p@ss word", "abcdefgh", "$apr1$"),
            "$apr1$abcdefgh$aJUuGLjz3OI4ylHF//t5U1"
        );
    }

    #[test]
    fn every_format() {
        let bcrypt_hash = bcrypt::hash("b-pass", 4).unwrap();
        let text = format!(
            "# comment\nmd5:$apr1$abcdefgh$aJUuGLjz3OI4ylHF//t5U1\nsha:{{SHA}}5en6G6MezRroT3XKqkdPOmY/BfQ=\nbc:{bcrypt_hash}\nplain:pl:ain\n\n"
        );
        let e = parse(&text).unwrap();
        let find = |u: &str| e.iter().find(|x| x.user == u).unwrap();
        assert!(find("md5").verify("p@ss word"));
        assert!(!find("md5").verify("p@ss wordx"));
        assert!(find("sha").verify("secret"));
        assert!(!find("sha").verify("Secret"));
        assert!(find("bc").verify("b-pass"));
        assert!(!find("bc").verify("b-pas"));
        assert!(find("plain").verify("pl:ain"));
        assert!(!find("plain").verify("pl"));
        assert!(!format!("{e:?}").contains("SHA"));
        assert_eq!(
            parse("nouser\n").unwrap_err(),
            "line 1: expected user:password"
        );
        assert_eq!(parse(":x\n").unwrap_err(), "line 1: empty user name");
    }
}
