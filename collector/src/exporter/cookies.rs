//! `cookies: {enabled: true}` on the OTLP/HTTP exporter: cookies a backend sets are sent back
//! on later requests, as confighttp's cookie jar does. Load balancers pin a client to one
//! backend this way (sticky sessions, e.g. an AWS ALB's `AWSALB` cookie), and some gateways
//! keep a session token in one.
//!
//! RFC 6265's storage model, for the one URL an exporter posts to: a cookie whose `Domain`
//! does not cover the host, or whose `Path` does not cover the URL's path, would never be
//! sent, so it is not kept. `Max-Age` (which wins) and `Expires` bound its life, and a past
//! one deletes it. `Secure` cookies go over https only. The public suffix list that Go's jar
//! consults is not: a cookie here is only ever sent back to the host that set it.

use http::{HeaderMap, HeaderValue, Uri, header};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// At most this many cookies are kept (a misbehaving backend cannot grow the jar).
const MAX_COOKIES: usize = 50;
/// Lifetimes are capped at 400 days (RFC 6265bis §5.6.1–2).
const MAX_LIFETIME_SECS: u64 = 400 * 24 * 3600;
/// Longer `Set-Cookie` values are ignored (RFC 6265 asks user agents for 4096 bytes).
const MAX_COOKIE_BYTES: usize = 4096;

/// The cookies for one URL.
#[derive(Debug)]
pub struct Jar {
    host: String,
    path: String,
    https: bool,
    cookies: Mutex<Vec<Cookie>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cookie {
    name: String,
    value: String,
    /// The `Domain` attribute, lowercased and without a leading dot; empty: host-only.
    domain: String,
    path: String,
    expires: Option<SystemTime>,
    /// Insertion order, for the RFC's order of equal-length paths.
    created: u64,
}

impl Jar {
    /// A jar for requests to `uri`.
    pub fn new(uri: &Uri) -> Jar {
        Jar {
            host: uri.host().unwrap_or_default().to_ascii_lowercase(),
            path: match uri.path() {
                "" => "/".to_owned(),
                p => p.to_owned(),
            },
            https: uri.scheme_str() == Some("https"),
            cookies: Mutex::default(),
        }
    }

    /// Keeps the cookies of a response's `Set-Cookie` headers.
    pub fn store(&self, headers: &HeaderMap) {
        self.store_at(headers, SystemTime::now());
    }

    fn store_at(&self, headers: &HeaderMap, now: SystemTime) {
        let mut cookies = self.lock();
        for v in headers.get_all(header::SET_COOKIE) {
            let Some(c) = v.to_str().ok().and_then(|s| self.parse(s, now)) else {
                continue;
            };
            let same = |o: &Cookie| o.name == c.name && o.domain == c.domain && o.path == c.path;
            let created = cookies.iter().find(|o| same(o)).map(|o| o.created);
            cookies.retain(|o| !same(o));
            if c.expires.is_some_and(|t| t <= now) {
                continue;
            }
            if cookies.len() >= MAX_COOKIES {
                tracing::debug!(cookie = %c.name, "the cookie jar is full: cookie ignored");
                continue;
            }
            // A replaced cookie keeps its place (RFC 6265 §5.3 step 11.3).
            let created = created.unwrap_or_else(|| next_id(&cookies));
            cookies.push(Cookie { created, ..c });
        }
    }

    /// The `Cookie` header for the next request, if any cookie applies.
    pub fn header(&self) -> Option<HeaderValue> {
        self.header_at(SystemTime::now())
    }

    fn header_at(&self, now: SystemTime) -> Option<HeaderValue> {
        let mut cookies = self.lock();
        cookies.retain(|c| c.expires.is_none_or(|t| t > now));
        // Every cookie kept applies: the jar serves one URL, and `parse` kept only what does.
        let mut sent: Vec<&Cookie> = cookies.iter().collect();
        if sent.is_empty() {
            return None;
        }
        // Longer paths first, then the older (RFC 6265 §5.4 step 2).
        sent.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.created.cmp(&b.created))
        });
        let line = sent
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ");
        let mut v = HeaderValue::from_str(&line).ok()?;
        // Session cookies are credentials: never logged.
        v.set_sensitive(true);
        Some(v)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Cookie>> {
        self.cookies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One `Set-Cookie` value (RFC 6265 §5.2), or `None` when it is malformed or could never
    /// be sent to this URL.
    fn parse(&self, line: &str, now: SystemTime) -> Option<Cookie> {
        if line.len() > MAX_COOKIE_BYTES {
            return None;
        }
        let mut parts = line.split(';');
        let (name, value) = parts.next()?.split_once('=')?;
        let (name, value) = (name.trim(), value.trim());
        // Go's rule: a value may be quoted, and is kept (and sent back) as it came.
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if name.is_empty() || !name.bytes().all(is_token) || !unquoted.bytes().all(is_value) {
            return None;
        }
        let mut c = Cookie {
            name: name.to_owned(),
            value: value.to_owned(),
            domain: String::new(),
            path: default_path(&self.path).to_owned(),
            expires: None,
            created: 0,
        };
        let mut max_age = None;
        let mut secure = false;
        for attr in parts {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("domain") {
                let d = v.trim_start_matches('.').to_ascii_lowercase();
                if !d.is_empty() {
                    c.domain = d;
                }
            } else if k.eq_ignore_ascii_case("path") {
                if v.starts_with('/') {
                    c.path = v.to_owned();
                }
            } else if k.eq_ignore_ascii_case("secure") {
                secure = true;
            } else if k.eq_ignore_ascii_case("max-age") {
                // Digits with an optional minus; anything else ignores the attribute.
                let digits = v.strip_prefix('-').unwrap_or(v);
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    max_age = Some(if v.starts_with('-') || digits.bytes().all(|b| b == b'0') {
                        SystemTime::UNIX_EPOCH
                    } else {
                        // Too many digits for a u64 is as long as can be.
                        let secs = digits.parse::<u64>().unwrap_or(u64::MAX);
                        now.checked_add(Duration::from_secs(secs.min(MAX_LIFETIME_SECS)))
                            .unwrap_or(now)
                    });
                }
            } else if k.eq_ignore_ascii_case("expires")
                && let Ok(t) = httpdate::parse_http_date(v)
            {
                c.expires = Some(t);
            }
        }
        if max_age.is_some() {
            c.expires = max_age;
        }
        if let Some(cap) = now.checked_add(Duration::from_secs(MAX_LIFETIME_SECS)) {
            c.expires = c.expires.map(|t| t.min(cap));
        }
        let domain_ok = c.domain.is_empty() || domain_matches(&self.host, &c.domain);
        let path_ok = path_matches(&self.path, &c.path);
        // A secure cookie set over plain http is refused (RFC 6265bis §5.6 step 8).
        let scheme_ok = self.https || !secure;
        (domain_ok && path_ok && scheme_ok).then_some(c)
    }
}

fn next_id(cookies: &[Cookie]) -> u64 {
    cookies.iter().map(|c| c.created + 1).max().unwrap_or(0)
}

/// RFC 6265 §5.1.4: the request path up to, not including, its last `/`; `/` when that is
/// the first.
fn default_path(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// RFC 6265 §5.1.4's path-match.
fn path_matches(request: &str, cookie: &str) -> bool {
    request == cookie
        || (request.starts_with(cookie)
            && (cookie.ends_with('/') || request.as_bytes().get(cookie.len()) == Some(&b'/')))
}

/// RFC 6265 §5.1.3's domain-match: the host itself, or a host name ending in `.domain`
/// (never for an IP address).
fn domain_matches(host: &str, domain: &str) -> bool {
    host == domain
        || (host.parse::<std::net::IpAddr>().is_err()
            && !host.starts_with('[')
            && host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.')))
}

/// RFC 2616's token characters, which a cookie's name is made of.
fn is_token(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)
}

/// A byte of a cookie's value as Go's `net/http` takes it: RFC 6265's cookie-octet, and also
/// space and comma, which browsers accept.
fn is_value(b: u8) -> bool {
    (0x20..=0x7E).contains(&b) && !matches!(b, b'"' | b';' | b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append(header::SET_COOKIE, HeaderValue::from_str(l).unwrap());
        }
        h
    }

    fn sent(url: &str, responses: &[&[&str]], at: u64) -> Option<String> {
        let jar = Jar::new(&url.parse().unwrap());
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for (i, r) in responses.iter().enumerate() {
            jar.store_at(&set(r), t0 + Duration::from_secs(i as u64));
        }
        jar.header_at(t0 + Duration::from_secs(at))
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// A URL, the `Set-Cookie` headers of successive responses (a second apart), when the
    /// next request goes (seconds after the first response), and the `Cookie` it carries.
    type Case<'a> = (&'a str, &'a [&'a [&'a str]], u64, Option<&'a str>);

    #[test]
    fn what_is_sent_back() {
        let traces = "http://gw.example.com:4318/v1/traces";
        let tls = "https://gw.example.com/v1/traces";
        let table: &[Case] = &[
            (traces, &[], 0, None),
            (
                traces,
                &[&["AWSALB=abc123; Path=/"]],
                1,
                Some("AWSALB=abc123"),
            ),
            (traces, &[&["a=1", "b=2"]], 1, Some("a=1; b=2")),
            // A later value replaces the earlier, and keeps its place.
            (traces, &[&["a=1", "b=2"], &["a=3"]], 2, Some("a=3; b=2")),
            (traces, &[&["s=\"quoted\""]], 1, Some("s=\"quoted\"")),
            (traces, &[&["e="]], 1, Some("e=")),
            // Longer paths first.
            (
                traces,
                &[&["a=1; Path=/", "b=2; Path=/v1"]],
                1,
                Some("b=2; a=1"),
            ),
            // The default path of /v1/traces is /v1.
            ("http://h/v1/traces", &[&["d=1"]], 1, Some("d=1")),
            // Paths and domains that do not cover this URL are not kept.
            (traces, &[&["p=1; Path=/v1/logs"]], 1, None),
            (traces, &[&["p=1; Path=/v"]], 1, None),
            (traces, &[&["p=1; Path=/v1/"]], 1, Some("p=1")),
            (traces, &[&["p=1; Path=/v1/traces"]], 1, Some("p=1")),
            (traces, &[&["p=1; Path=relative"]], 1, Some("p=1")),
            (traces, &[&["d=1; Domain=example.com"]], 1, Some("d=1")),
            (traces, &[&["d=1; Domain=.EXAMPLE.com"]], 1, Some("d=1")),
            (traces, &[&["d=1; Domain=gw.example.com"]], 1, Some("d=1")),
            (traces, &[&["d=1; Domain=other.com"]], 1, None),
            (traces, &[&["d=1; Domain=w.example.com"]], 1, None),
            (
                "http://10.0.0.1/v1/traces",
                &[&["d=1; Domain=0.0.1"]],
                1,
                None,
            ),
            (
                "http://10.0.0.1/v1/traces",
                &[&["d=1; Domain=10.0.0.1"]],
                1,
                Some("d=1"),
            ),
            // Lifetimes: Max-Age wins over Expires; a past one deletes.
            (traces, &[&["m=1; Max-Age=10"]], 9, Some("m=1")),
            (traces, &[&["m=1; Max-Age=10"]], 11, None),
            (
                traces,
                &[&["m=1; Max-Age=10; Expires=Wed, 21 Oct 2015 07:28:00 GMT"]],
                5,
                Some("m=1"),
            ),
            (traces, &[&["m=1"], &["m=1; Max-Age=0"]], 2, None),
            (traces, &[&["m=1"], &["m=1; Max-Age=-1"]], 2, None),
            (
                traces,
                &[&["m=1"], &["m=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT"]],
                2,
                None,
            ),
            (
                traces,
                &[&["m=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT"]],
                1,
                None,
            ),
            (
                traces,
                &[&["m=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT"]],
                1,
                Some("m=1"),
            ),
            (
                traces,
                &[&["m=1; Max-Age=99999999999999999999999"]],
                100,
                Some("m=1"),
            ),
            // ... but no longer than 400 days.
            (
                traces,
                &[&["m=1; Max-Age=99999999999"]],
                400 * 24 * 3600 + 1,
                None,
            ),
            (traces, &[&["m=1; Max-Age=00"]], 0, None),
            (
                traces,
                &[&["m=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT"]],
                400 * 24 * 3600 + 1,
                None,
            ),
            (traces, &[&["m=1; Max-Age=1x"]], 100, Some("m=1")),
            (traces, &[&["m=1; Expires=soon"]], 100, Some("m=1")),
            // Secure cookies: kept and sent over https only.
            (tls, &[&["s=1; Secure; HttpOnly"]], 1, Some("s=1")),
            (traces, &[&["s=1; Secure"]], 1, None),
            // Malformed: ignored.
            (traces, &[&["novalue"]], 1, None),
            (traces, &[&["=1"]], 1, None),
            (traces, &[&["a b=1"]], 1, None),
            (traces, &[&["a=x y"]], 1, Some("a=x y")),
            (traces, &[&["a=x,y"]], 1, Some("a=x,y")),
            (traces, &[&["a=x\"y"]], 1, None),
            (traces, &[&["a=x\\y"]], 1, None),
            (traces, &[&["a=\"x"]], 1, None),
        ];
        for (url, responses, at, want) in table {
            assert_eq!(
                sent(url, responses, *at).as_deref(),
                *want,
                "{url} {responses:?} at {at}"
            );
        }
    }

    #[test]
    fn the_jar_is_bounded() {
        let jar = Jar::new(&"http://h/v1/traces".parse().unwrap());
        let many: Vec<String> = (0..MAX_COOKIES + 10).map(|i| format!("c{i}=v")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        jar.store(&set(&refs));
        let h = jar.header().unwrap();
        assert_eq!(h.to_str().unwrap().split("; ").count(), MAX_COOKIES);
        assert!(h.is_sensitive());
        let long = format!("big={}", "x".repeat(MAX_COOKIE_BYTES));
        let jar = Jar::new(&"http://h/".parse().unwrap());
        jar.store(&set(&[&long]));
        assert_eq!(jar.header(), None);
    }

    proptest::proptest! {
        /// Whatever a backend sends, the jar never panics and what it sends is a valid header
        /// made of `name=value` pairs it was given.
        #[test]
        fn any_set_cookie_is_safe(lines in proptest::collection::vec("[ -~]{0,60}", 0..8)) {
            let jar = Jar::new(&"https://h.example/v1/traces".parse().unwrap());
            let mut h = HeaderMap::new();
            for l in &lines {
                if let Ok(v) = HeaderValue::from_str(l) {
                    h.append(header::SET_COOKIE, v);
                }
            }
            jar.store(&h);
            if let Some(v) = jar.header() {
                for pair in v.to_str().unwrap().split("; ") {
                    let (name, _) = pair.split_once('=').unwrap();
                    proptest::prop_assert!(
                        lines.iter().any(|l| l.trim_start().starts_with(name)),
                        "{pair} from {lines:?}"
                    );
                }
            }
        }
    }
}
