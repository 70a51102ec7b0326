//! Exporters through an HTTP proxy, as the Collector's go: `proxy_url` on `otlp_http`, else the
//! environment Go reads (`http.ProxyFromEnvironment`): `HTTPS_PROXY` for an https:// backend,
//! `HTTP_PROXY` for an http:// one (upper case first, then lower), with `NO_PROXY`'s
//! exceptions; a backend on `localhost` or a loopback address is never proxied. The gRPC
//! exporter takes `HTTPS_PROXY` whatever its TLS, as grpc-go does.
//!
//! An https:// backend, and every gRPC one, is reached through a `CONNECT` tunnel (TLS is then
//! end to end); a plain http:// request goes to the proxy in absolute form, as Go sends it.
//! Credentials in the proxy's URL (`http://user:pass@proxy:3128`) become
//! `Proxy-Authorization: Basic`. Only http:// proxies are supported: another scheme is an error
//! naming where it came from, not a silent direct connection.

use crate::pipeline::BoxFuture;
use http::{HeaderValue, Uri};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::net::TcpStream;

/// Reads an environment variable (the process's, or a test's).
pub type Env = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The process's environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Where a backend's connections go instead of to the backend.
#[derive(Clone, Debug)]
pub struct Route {
    /// `http://host:port/` of the proxy.
    pub proxy: Uri,
    /// `Proxy-Authorization`, from the credentials in the proxy's URL.
    pub auth: Option<HeaderValue>,
}

impl Route {
    /// A connector that dials the backend through this proxy's `CONNECT` tunnel.
    pub fn tunnel(&self) -> Tunnel<HttpConnector> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        let tunnel = Tunnel::new(self.proxy.clone(), http);
        match &self.auth {
            Some(auth) => tunnel.with_auth(auth.clone()),
            None => tunnel,
        }
    }
}

/// The first of `names` set (to anything but an empty string), with its name.
fn first_set<'a>(env: &Env, names: &[&'a str]) -> Option<(&'a str, String)> {
    names
        .iter()
        .find_map(|n| env(n).filter(|v| !v.trim().is_empty()).map(|v| (*n, v)))
}

/// Refuses a proxy URL that is not `http://` (or scheme-less, which Go reads as `http://`).
/// The value itself is never repeated: it may hold credentials.
pub fn check_scheme(value: &str) -> Result<(), String> {
    match value.trim().parse::<Uri>() {
        Ok(u) if u.authority().is_none() => Err("not a proxy URL".to_owned()),
        Ok(u) => match u.scheme_str() {
            None | Some("http") => Ok(()),
            Some(other) => Err(format!(
                "{other}:// proxies are not supported: use an http:// proxy"
            )),
        },
        Err(_) => Err("not a proxy URL".to_owned()),
    }
}

/// The route through the proxy at `url` (checked, `origin` naming where it came from in an
/// error), for requests to `target`.
fn via(origin: &str, url: &str, target: &Uri) -> Result<Option<Route>, String> {
    check_scheme(url).map_err(|e| format!("{origin}: {e}"))?;
    let url = url.trim();
    let matcher = Matcher::builder().http(url).https(url).build();
    Ok(matcher.intercept(target).map(|i| Route {
        proxy: i.uri().clone(),
        auth: i.basic_auth().cloned(),
    }))
}

/// `host:port`, an IPv6 host in brackets.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Whether Go would never proxy this host: `localhost` or a loopback address.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The route for `otlp_http`'s requests to `target`: through `proxy_url` when set (every
/// request, as the Collector's `http.ProxyURL`), else as the environment says.
pub fn http_route(
    proxy_url: Option<&str>,
    target: &Uri,
    env: &Env,
) -> Result<Option<Route>, String> {
    if let Some(url) = proxy_url.filter(|u| !u.trim().is_empty()) {
        return via("proxy_url", url, target);
    }
    let var = match target.scheme_str() {
        Some("https") => &["HTTPS_PROXY", "https_proxy"],
        _ => &["HTTP_PROXY", "http_proxy"],
    };
    from_env(target, var, env)
}

/// The route for the gRPC exporter's connections to `host:port`: `HTTPS_PROXY`, as grpc-go.
pub fn grpc_route(host: &str, port: u16, env: &Env) -> Result<Option<Route>, String> {
    let authority = authority(host, port);
    let target: Uri = format!("https://{authority}/")
        .parse()
        .map_err(|e| format!("invalid endpoint {authority}: {e}"))?;
    from_env(&target, &["HTTPS_PROXY", "https_proxy"], env)
}

fn from_env(target: &Uri, var: &[&str], env: &Env) -> Result<Option<Route>, String> {
    let Some((name, value)) = first_set(env, var) else {
        return Ok(None);
    };
    let Some(host) = target.host() else {
        return Ok(None);
    };
    let port = target
        .port_u16()
        .unwrap_or(if target.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let no = first_set(env, &["NO_PROXY", "no_proxy"])
        .map(|(_, v)| v)
        .unwrap_or_default();
    // A proxy that is not used is not checked: an in-cluster backend in NO_PROXY is reached
    // whatever HTTPS_PROXY says.
    if is_loopback(host) || exempt(&no, host, port) {
        return Ok(None);
    }
    via(&format!("the {name} environment variable"), &value, target)
}

/// Whether `NO_PROXY` exempts `host:port`, by Go's rules (`golang.org/x/net/http/httpproxy`):
/// comma-separated entries; `*` exempts everything; a CIDR (`10.0.0.0/8`) or an IP, with or
/// without a port; a domain (`example.com`: it and its subdomains; `.example.com` or
/// `*.example.com`: its subdomains only), with or without a port.
fn exempt(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let ip = host.parse::<IpAddr>().ok();
    let port = port.to_string();
    no_proxy.split(',').any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        if entry.is_empty() {
            return false;
        }
        if entry == "*" {
            return true;
        }
        if let Some((net, bits)) = entry.split_once('/') {
            return match (net.parse::<IpAddr>(), bits.parse::<u8>(), ip) {
                (Ok(net), Ok(bits), Some(ip)) => in_network(ip, net, bits),
                _ => false,
            };
        }
        let (name, want_port) = split_port(&entry);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        if name.is_empty() || want_port.is_some_and(|p| p != port) {
            return false;
        }
        if let Ok(entry_ip) = name.parse::<IpAddr>() {
            return ip == Some(entry_ip);
        }
        let name = name.strip_prefix('*').unwrap_or(name);
        match name.strip_prefix('.') {
            Some(_) => host.ends_with(name),
            None => host == name || host.ends_with(&format!(".{name}")),
        }
    })
}

/// `host:port` → (`host`, `port`); an entry without a port (a bare IPv6 address included) is
/// all host.
fn split_port(entry: &str) -> (&str, Option<&str>) {
    let split = if entry.starts_with('[') {
        entry
            .rsplit_once("]:")
            .map(|(h, p)| (h.trim_start_matches('['), p))
    } else if entry.matches(':').count() == 1 {
        entry.split_once(':')
    } else {
        None
    };
    match split {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (entry, None),
    }
}

/// Whether `ip` lies in `net`/`bits` (same family only).
fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// `otlp_http`'s connector: straight to the backend, through a tunnel, or to a proxy that
/// takes requests in absolute form.
#[derive(Clone)]
pub enum Dial {
    /// To the backend.
    Direct(HttpConnector),
    /// Through the proxy's `CONNECT` tunnel (https:// backends).
    Tunnel(Tunnel<HttpConnector>),
    /// To the proxy itself, which gets each request in absolute form (http:// backends), with
    /// its credentials.
    Forward(HttpConnector, Uri, Option<HeaderValue>),
}

impl Dial {
    /// The connector for requests to `target` along `route`.
    pub fn new(http: HttpConnector, target: &Uri, route: Option<&Route>) -> Dial {
        match route {
            None => Dial::Direct(http),
            Some(r) if target.scheme_str() == Some("https") => Dial::Tunnel(r.tunnel()),
            Some(r) => Dial::Forward(http, r.proxy.clone(), r.auth.clone()),
        }
    }

    /// The `Proxy-Authorization` each request carries: a forward proxy's (a tunnel's goes
    /// with its `CONNECT`).
    pub fn request_auth(&self) -> Option<&HeaderValue> {
        match self {
            Dial::Forward(_, _, auth) => auth.as_ref(),
            Dial::Direct(_) | Dial::Tunnel(_) => None,
        }
    }
}

/// A connection, and whether it is to a forward proxy (so requests go in absolute form).
pub struct Conn {
    io: TokioIo<TcpStream>,
    forward: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.forward)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tonic::codegen::Service<Uri> for Dial {
    type Response = Conn;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Conn, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Dial::Direct(c) | Dial::Forward(c, ..) => c.poll_ready(cx).map_err(Into::into),
            Dial::Tunnel(t) => t.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        type Connecting = BoxFuture<'static, Result<TokioIo<TcpStream>, BoxError>>;
        let (connecting, forward): (Connecting, bool) = match self {
            Dial::Direct(c) => {
                let f = c.call(dst);
                (Box::pin(async move { Ok(f.await?) }), false)
            }
            Dial::Forward(c, proxy, _) => {
                let f = c.call(proxy.clone());
                (Box::pin(async move { Ok(f.await?) }), true)
            }
            Dial::Tunnel(t) => {
                let f = t.call(dst);
                (Box::pin(async move { Ok(f.await?) }), false)
            }
        };
        Box::pin(async move {
            Ok(Conn {
                io: connecting.await?,
                forward,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + use<> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    fn shown(r: Result<Option<Route>, String>) -> Result<Option<(String, Option<String>)>, String> {
        r.map(|o| {
            o.map(|r| {
                (
                    r.proxy.to_string(),
                    r.auth.map(|a| a.to_str().unwrap().to_owned()),
                )
            })
        })
    }

    #[test]
    fn otlp_http_routes() {
        type Case = (
            Option<&'static str>,
            &'static str,
            Vec<(&'static str, &'static str)>,
            Result<Option<(&'static str, Option<&'static str>)>, &'static str>,
        );
        let proxy = Some(("http://proxy.corp:3128/", None));
        let cases: Vec<Case> = vec![
            (
                None,
                "https://otlp.nr-data.net:4318/v1/traces",
                vec![],
                Ok(None),
            ),
            (
                None,
                "https://otlp.nr-data.net:4318/v1/traces",
                vec![("HTTPS_PROXY", "http://proxy.corp:3128")],
                Ok(proxy),
            ),
            // Lower case too; upper case first.
            (
                None,
                "https://otlp.nr-data.net/v1/traces",
                vec![("https_proxy", "proxy.corp:3128")],
                Ok(proxy),
            ),
            (
                None,
                "https://otlp.nr-data.net/v1/traces",
                vec![
                    ("HTTPS_PROXY", "http://proxy.corp:3128"),
                    ("https_proxy", "http://other:1"),
                ],
                Ok(proxy),
            ),
            // HTTP_PROXY is for http:// backends only.
            (
                None,
                "https://otlp.nr-data.net/v1/traces",
                vec![("HTTP_PROXY", "http://proxy.corp:3128")],
                Ok(None),
            ),
            (
                None,
                "http://tempo.tempo:4318/v1/traces",
                vec![("HTTP_PROXY", "http://proxy.corp:3128")],
                Ok(proxy),
            ),
            // NO_PROXY: a domain and its subdomains, CIDRs, `*`.
            (
                None,
                "http://tempo.tempo.svc.cluster.local:4318/v1/traces",
                vec![
                    ("HTTP_PROXY", "http://proxy.corp:3128"),
                    ("NO_PROXY", ".svc.cluster.local,10.0.0.0/8"),
                ],
                Ok(None),
            ),
            (
                None,
                "http://10.96.4.7:4318/v1/traces",
                vec![
                    ("HTTP_PROXY", "http://proxy.corp:3128"),
                    ("no_proxy", ".svc.cluster.local, 10.0.0.0/8"),
                ],
                Ok(None),
            ),
            (
                None,
                "https://otlp.nr-data.net/v1/traces",
                vec![("HTTPS_PROXY", "http://proxy.corp:3128"), ("NO_PROXY", "*")],
                Ok(None),
            ),
            // Never for loopback.
            (
                None,
                "http://localhost:4318/v1/traces",
                vec![("HTTP_PROXY", "http://proxy.corp:3128")],
                Ok(None),
            ),
            (
                None,
                "http://127.0.0.1:4318/v1/traces",
                vec![("HTTP_PROXY", "http://proxy.corp:3128")],
                Ok(None),
            ),
            (
                None,
                "http://[::1]:4318/v1/traces",
                vec![("HTTP_PROXY", "http://proxy.corp:3128")],
                Ok(None),
            ),
            // Credentials become Proxy-Authorization.
            (
                None,
                "https://otlp.nr-data.net/v1/traces",
                vec![("HTTPS_PROXY", "http://exporter:s%40fe@proxy.corp:3128")],
                Ok(Some((
                    "http://proxy.corp:3128/",
                    Some("Basic ZXhwb3J0ZXI6c0BmZQ=="),
                ))),
            ),
            // proxy_url wins, for every backend, NO_PROXY or not.
            (
                Some("http://egress:8080"),
                "http://localhost:4318/v1/traces",
                vec![("HTTP_PROXY", "http://proxy.corp:3128"), ("NO_PROXY", "*")],
                Ok(Some(("http://egress:8080/", None))),
            ),
            (
                Some("socks5://egress:1080"),
                "https://otlp.nr-data.net/v1/traces",
                vec![],
                Err("proxy_url: socks5:// proxies are not supported: use an http:// proxy"),
            ),
            (
                None,
                "https://otlp.nr-data.net/v1/traces",
                vec![("HTTPS_PROXY", "https://user:secret@proxy.corp:3128")],
                Err(
                    "the HTTPS_PROXY environment variable: https:// proxies are not supported: use an http:// proxy",
                ),
            ),
        ];
        for (proxy_url, target, vars, want) in cases {
            let got = shown(http_route(proxy_url, &target.parse().unwrap(), &env(&vars)));
            let want = want
                .map(|o| o.map(|(p, a)| (p.to_owned(), a.map(str::to_owned))))
                .map_err(str::to_owned);
            assert_eq!(got, want, "{proxy_url:?} {target} {vars:?}");
        }
    }

    #[test]
    fn no_proxy_by_gos_rules() {
        for (no_proxy, host, port, exempted) in [
            ("*", "anything.example", 443, true),
            ("*", "10.96.4.7", 4318, true),
            ("example.com", "example.com", 443, true),
            ("example.com", "api.example.com", 443, true),
            ("example.com", "notexample.com", 443, false),
            (".example.com", "api.example.com", 443, true),
            (".example.com", "example.com", 443, false),
            ("*.example.com", "api.example.com", 443, true),
            ("*.example.com", "example.com", 443, false),
            ("example.com:4318", "example.com", 4318, true),
            ("example.com:4318", "example.com", 443, false),
            ("10.0.0.0/8", "10.96.4.7", 4318, true),
            ("10.0.0.0/8", "11.0.0.1", 4318, false),
            ("10.96.4.7", "10.96.4.7", 4318, true),
            ("10.96.4.7:4318", "10.96.4.7", 4318, true),
            ("10.96.4.7:4317", "10.96.4.7", 4318, false),
            ("fd00::/8", "[fd00::1]", 4317, true),
            ("[fd00::1]:4317", "[fd00::1]", 4317, true),
            ("fd00::1", "[fd00::1]", 4317, true),
            (" .svc , .cluster.local ", "tempo.tempo.svc", 4317, true),
            ("EXAMPLE.com", "Api.Example.COM", 443, true),
            ("", "example.com", 443, false),
        ] {
            assert_eq!(
                exempt(no_proxy, host, port),
                exempted,
                "NO_PROXY={no_proxy:?} {host}:{port}"
            );
        }
    }

    #[test]
    fn an_unusable_proxy_is_only_an_error_where_it_would_be_used() {
        let vars = env(&[
            ("HTTPS_PROXY", "socks5://egress:1080"),
            ("NO_PROXY", ".svc.cluster.local"),
        ]);
        assert_eq!(
            shown(grpc_route(
                "gateway.observability.svc.cluster.local",
                4317,
                &vars
            )),
            Ok(None)
        );
        assert_eq!(
            shown(grpc_route("otlp.nr-data.net", 4317, &vars)),
            Err("the HTTPS_PROXY environment variable: socks5:// proxies are not supported: use an http:// proxy".to_owned())
        );
    }

    #[test]
    fn grpc_routes_take_https_proxy_whatever_the_tls() {
        let vars = env(&[
            ("HTTPS_PROXY", "http://proxy.corp:3128"),
            ("HTTP_PROXY", "http://wrong:1"),
            ("NO_PROXY", "tempo.tempo"),
        ]);
        let got = |host: &str| shown(grpc_route(host, 4317, &vars));
        assert_eq!(
            got("otlp.nr-data.net"),
            Ok(Some(("http://proxy.corp:3128/".to_owned(), None)))
        );
        assert_eq!(got("tempo.tempo"), Ok(None));
        assert_eq!(got("::1"), Ok(None));
        assert_eq!(got("localhost"), Ok(None));
        assert_eq!(
            shown(grpc_route(
                "gw",
                4317,
                &env(&[("HTTP_PROXY", "http://p:1")])
            )),
            Ok(None)
        );
    }

    proptest::proptest! {
        /// A domain entry exempts the host and its subdomains; a leading dot only the
        /// subdomains; a port only that port.
        #[test]
        fn domain_entries(host in "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){0,3}", port in 1u16..) {
            let sub = format!("api.{host}");
            let glued = format!("x{host}");
            let dotted = format!(".{host}");
            let starred = format!("*.{host}");
            let with_port = format!("{host}:{port}");
            let other_port = if port == u16::MAX { 1 } else { port + 1 };
            proptest::prop_assert!(exempt(&host, &host, port));
            proptest::prop_assert!(exempt(&host, &sub, port));
            proptest::prop_assert!(!exempt(&host, &glued, port));
            proptest::prop_assert!(!exempt(&dotted, &host, port));
            proptest::prop_assert!(exempt(&dotted, &sub, port));
            proptest::prop_assert!(exempt(&starred, &sub, port));
            proptest::prop_assert!(exempt(&with_port, &host, port));
            proptest::prop_assert!(!exempt(&with_port, &host, other_port));
            proptest::prop_assert!(exempt("*", &host, port));
        }
    }
}
