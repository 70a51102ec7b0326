//! `zpages`: the Collector's in-process debug pages (default `localhost:55679`), for a look
//! inside a running collector with `kubectl port-forward` and a browser:
//!
//! - `/debug/servicez`: version, start time, uptime, memory and CPU, links to the rest;
//! - `/debug/pipelinez`: every pipeline with its receivers, processors and exporters; each
//!   component links to its own self-metrics as they stand now;
//! - `/debug/extensionz`: the running extensions;
//! - `/debug/featurez`: feature gates (this build has none);
//! - `/debug/tracez`: per operation (`receiver/otlp/TraceDataReceived`,
//!   `exporter/otlp/traces`), how many run now, finish per latency bucket and fail, with the
//!   latest samples of each (see [`crate::telemetry::tracez`]);
//! - `/debug/expvarz` (with `expvar: {enabled: true}`): the command line and process figures
//!   as JSON.
//!
//! Pages are rendered on request from what the service already keeps; nothing here is on the
//! data path.

use crate::component::{ComponentError, Context, Extension, ExtensionConfig, Topology, Validate};
use crate::config::{ConfigError, duration};
use crate::net::{self, HttpServer, query_param as param};
use crate::pipeline::BoxFuture;
use crate::telemetry::Telemetry;
use crate::telemetry::tracez::{self, BUCKET_LABELS, Sample};
use http::StatusCode;
use http_body_util::Full;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// `expvar:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpvarConfig {
    /// Serve `/debug/expvarz` (default off, as in the Collector).
    #[serde(default)]
    pub enabled: bool,
}

/// `extensions: zpages:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZPagesConfig {
    /// Where to listen (default `localhost:55679`: reach it with `kubectl port-forward`).
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// `/debug/expvarz`.
    #[serde(default)]
    pub expvar: ExpvarConfig,
    /// Server TLS (none by default: plaintext).
    #[serde(default)]
    pub tls: Option<crate::tls::server::ServerTlsConfig>,
    /// Headers added to every response: a map, or a list of `{name, value}`.
    #[serde(default, deserialize_with = "crate::config::maplist::de")]
    pub response_headers: BTreeMap<String, String>,
    /// HTTP/1 request headers must arrive within this long (default 1m).
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub read_header_timeout: Option<Duration>,
}

fn default_endpoint() -> String {
    "localhost:55679".into()
}

impl Validate for ZPagesConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        if let Err(r) = net::check_endpoint(&self.endpoint) {
            e.push(ConfigError::new(r).field("endpoint"));
        }
        if let Some(t) = &self.tls {
            e.extend(t.validate("tls"));
        }
        e
    }

    fn warnings(&self) -> Vec<String> {
        self.tls
            .as_ref()
            .map(|t| t.warnings("tls"))
            .unwrap_or_default()
    }
}

impl ExtensionConfig for ZPagesConfig {
    fn build(&self, ctx: &Context) -> Result<Box<dyn Extension>, ComponentError> {
        // Extensions are built before the components they watch: those register their
        // operations from now on.
        ctx.telemetry.tracez.enable();
        Ok(Box::new(ZPages {
            cfg: self.clone(),
            ctx: ctx.clone(),
            server: None,
        }))
    }
}

struct ZPages {
    cfg: ZPagesConfig,
    ctx: Context,
    server: Option<HttpServer>,
}

impl Extension for ZPages {
    fn start(&mut self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let label = self.ctx.label();
            let tls = self
                .cfg
                .tls
                .as_ref()
                .map(|t| crate::tls::server::TlsServer::new(&label, t, &[b"h2", b"http/1.1"]))
                .transpose()
                .map_err(|e| self.ctx.error(e))?;
            let opts = net::ServeOptions {
                tls,
                read_header_timeout: Some(
                    self.cfg
                        .read_header_timeout
                        .unwrap_or(Duration::from_secs(60)),
                )
                .filter(|d| !d.is_zero()),
            };
            // Loopback is the intended default here (port-forward reaches it): no warning.
            let listener = net::bind(&label, "zpages", &self.cfg.endpoint, false)
                .await
                .map_err(|e| self.ctx.error(e))?;
            let pages = Arc::new(Pages {
                telemetry: self.ctx.telemetry.clone(),
                topology: self.ctx.topology.clone(),
                expvar: self.cfg.expvar.enabled,
                headers: net::response_headers(&self.cfg.response_headers),
            });
            self.server = Some(HttpServer::serve_with(listener, opts, move |req| {
                let pages = pages.clone();
                async move { pages.answer(req.method(), req.uri()) }
            }));
            Ok(())
        })
    }

    fn shutdown(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(mut s) = self.server.take() {
                s.shutdown().await;
            }
        })
    }
}

/// What the pages are drawn from.
pub struct Pages {
    /// Self-metrics, process figures and operation records.
    pub telemetry: Arc<Telemetry>,
    /// The pipelines and extensions.
    pub topology: Arc<Topology>,
    /// Whether `/debug/expvarz` is served.
    pub expvar: bool,
    /// `response_headers`.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

type Response = http::Response<Full<bytes::Bytes>>;

impl Pages {
    /// The answer to `GET uri`.
    pub fn answer(&self, method: &http::Method, uri: &http::Uri) -> Response {
        let mut r = self.route(method, uri);
        for (k, v) in &self.headers {
            r.headers_mut().insert(k.clone(), v.clone());
        }
        r
    }

    fn route(&self, method: &http::Method, uri: &http::Uri) -> Response {
        if let Some(refused) = net::only_get(method) {
            return refused;
        }
        let query = uri.query().unwrap_or("");
        let page = match uri.path().trim_end_matches('/') {
            "" | "/debug" => {
                let mut r = net::text(StatusCode::FOUND, "");
                r.headers_mut().insert(
                    http::header::LOCATION,
                    http::HeaderValue::from_static("/debug/servicez"),
                );
                return r;
            }
            "/debug/servicez" => self.servicez(),
            "/debug/pipelinez" => match (
                param(query, "componentkindz"),
                param(query, "componentnamez"),
            ) {
                (Some(kind), Some(name)) => {
                    self.componentz(&kind, &name, param(query, "pipelinenamez").as_deref())
                }
                _ => self.pipelinez(),
            },
            "/debug/extensionz" => self.extensionz(),
            "/debug/featurez" => featurez(),
            "/debug/tracez" => self.tracez(query),
            "/debug/expvarz" if self.expvar => return self.expvarz(),
            _ => return net::text(StatusCode::NOT_FOUND, "not found\n"),
        };
        net::html(page)
    }

    fn servicez(&self) -> String {
        let p = self.telemetry.process();
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        let mut out = head("Service");
        out.push_str("<h2>Build and runtime</h2>\n<table>\n");
        let rows = [
            ("Command", command),
            ("Description", "meshtrace collector".to_owned()),
            ("Version", env!("CARGO_PKG_VERSION").to_owned()),
            ("Start time", rfc3339(self.telemetry.started_at())),
            (
                "Uptime",
                duration::format(Duration::from_secs(p.uptime_seconds as u64)),
            ),
            (
                "Resident memory",
                format!("{:.1} MiB", p.rss_bytes / 1048576.0),
            ),
            ("CPU time", format!("{:.2} s", p.cpu_seconds)),
        ];
        for (k, v) in rows {
            let _ = writeln!(out, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
        }
        out.push_str("</table>\n<h2>Pages</h2>\n<ul>\n");
        let _ = writeln!(
            out,
            "<li><a href=\"/debug/pipelinez\">Pipelines</a> ({})</li>",
            self.topology.pipelines.len()
        );
        let _ = writeln!(
            out,
            "<li><a href=\"/debug/extensionz\">Extensions</a> ({})</li>",
            self.topology.extensions.len()
        );
        out.push_str("<li><a href=\"/debug/featurez\">Feature gates</a></li>\n");
        out.push_str("<li><a href=\"/debug/tracez\">Operations (tracez)</a></li>\n");
        if self.expvar {
            out.push_str("<li><a href=\"/debug/expvarz\">expvarz</a></li>\n");
        }
        out.push_str("</ul>\n");
        tail(out)
    }

    fn pipelinez(&self) -> String {
        let mut out = head("Pipelines");
        out.push_str(
            "<table>\n<tr><th>Pipeline</th><th>Signal</th><th>Receivers</th><th>Processors</th><th>Exporters</th></tr>\n",
        );
        for p in &self.topology.pipelines {
            let pipeline = p.id.to_string();
            let cell = |kind: &str, ids: &[crate::component::ComponentId]| {
                let links: Vec<String> = ids
                    .iter()
                    .map(|id| {
                        let id = id.to_string();
                        format!(
                            "<a href=\"/debug/pipelinez?pipelinenamez={}&amp;componentnamez={}&amp;componentkindz={kind}\">{}</a>",
                            encode(&pipeline),
                            encode(&id),
                            esc(&id)
                        )
                    })
                    .collect();
                if kind == "processor" {
                    links.join(" → ")
                } else {
                    links.join(", ")
                }
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&pipeline),
                crate::signal_name(p.id.signal),
                cell("receiver", &p.receivers),
                cell("processor", &p.processors),
                cell("exporter", &p.exporters),
            );
        }
        out.push_str("</table>\n");
        tail(out)
    }

    /// One component's self-metrics as they stand now.
    fn componentz(&self, kind: &str, name: &str, pipeline: Option<&str>) -> String {
        let title = format!("{kind} {name}");
        let mut out = head(&title);
        if let Some(p) = pipeline {
            let _ = writeln!(out, "<p>In pipeline {}.</p>", esc(p));
        }
        let known = self.topology.pipelines.iter().any(|p| {
            let ids = match kind {
                "receiver" => &p.receivers,
                "processor" => &p.processors,
                "exporter" => &p.exporters,
                _ => return false,
            };
            ids.iter().any(|id| id.to_string() == name)
        });
        if !known {
            let _ = writeln!(
                out,
                "<p>No {} named {} runs in this collector.</p>",
                esc(kind),
                esc(name)
            );
            return tail(out);
        }
        let series = self.telemetry.series_of(kind, name);
        if series.is_empty() {
            out.push_str("<p>This component keeps no metrics of its own.</p>\n");
            return tail(out);
        }
        out.push_str("<table>\n<tr><th>Metric</th><th>Labels</th><th>Value</th></tr>\n");
        for (metric, labels, v) in series {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{v}</td></tr>",
                esc(&metric),
                esc(&labels)
            );
        }
        out.push_str("</table>\n");
        tail(out)
    }

    fn extensionz(&self) -> String {
        let mut out = head("Extensions");
        out.push_str("<table>\n<tr><th>Extension</th></tr>\n");
        for e in &self.topology.extensions {
            let _ = writeln!(out, "<tr><td>{}</td></tr>", esc(e));
        }
        out.push_str("</table>\n");
        tail(out)
    }

    fn tracez(&self, query: &str) -> String {
        let ops = self.telemetry.tracez.operations();
        let mut out = head("Operations (tracez)");
        out.push_str("<table>\n<tr><th>Operation</th><th>Running</th>");
        for l in BUCKET_LABELS {
            let _ = write!(out, "<th>{l}</th>");
        }
        out.push_str("<th>Errors</th></tr>\n");
        for (name, op) in &ops {
            let link = |ztype: u8, bucket: Option<usize>, n: u64| {
                if n == 0 {
                    return "<td class=\"n\">0</td>".to_owned();
                }
                let b = bucket.map_or(String::new(), |b| format!("&amp;zlatencybucket={b}"));
                format!(
                    "<td class=\"n\"><a href=\"/debug/tracez?zspanname={}&amp;ztype={ztype}{b}\">{n}</a></td>",
                    encode(name)
                )
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td>",
                esc(name),
                op.running()
            );
            for (b, n) in op.latency_counts().into_iter().enumerate() {
                out.push_str(&link(1, Some(b), n));
            }
            out.push_str(&link(2, None, op.errors()));
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        if ops.is_empty() {
            out.push_str("<p>No operation has been recorded yet.</p>\n");
        }
        if let Some(name) = param(query, "zspanname") {
            let op = ops.iter().find(|(n, _)| *n == name).map(|(_, op)| op);
            let (what, samples) = match (param(query, "ztype").as_deref(), op) {
                (_, None) => (format!("No operation named {}.", esc(&name)), Vec::new()),
                (Some("2"), Some(op)) => (
                    format!("Latest failures of {}", esc(&name)),
                    op.samples(None),
                ),
                (Some("1"), Some(op)) => {
                    let b = param(query, "zlatencybucket")
                        .and_then(|b| b.parse::<usize>().ok())
                        .filter(|b| *b < tracez::BUCKETS.len())
                        .unwrap_or(0);
                    (
                        format!(
                            "Latest of {} taking {}",
                            esc(&name),
                            esc(BUCKET_LABELS.get(b).copied().unwrap_or(""))
                        ),
                        op.samples(Some(b)),
                    )
                }
                (_, Some(_)) => (
                    "Running operations are counted, not listed.".to_owned(),
                    Vec::new(),
                ),
            };
            let _ = writeln!(out, "<h2>{what}</h2>");
            if !samples.is_empty() {
                out.push_str(&samples_table(&samples));
            }
        }
        tail(out)
    }

    fn expvarz(&self) -> Response {
        let p = self.telemetry.process();
        let body = serde_json::json!({
            "cmdline": std::env::args().collect::<Vec<_>>(),
            "version": env!("CARGO_PKG_VERSION"),
            "process": {
                "cpu_seconds": p.cpu_seconds,
                "rss_bytes": p.rss_bytes,
                "uptime_seconds": p.uptime_seconds,
            },
        });
        let mut r = http::Response::new(Full::new(bytes::Bytes::from(body.to_string())));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        r
    }
}

fn featurez() -> String {
    let mut out = head("Feature gates");
    out.push_str(
        "<table>\n<tr><th>ID</th><th>Enabled</th><th>Stage</th><th>Description</th></tr>\n</table>\n<p>This build has no feature gates.</p>\n",
    );
    tail(out)
}

fn samples_table(samples: &[Sample]) -> String {
    let mut out = String::from(
        "<table>\n<tr><th>Start</th><th>Duration</th><th>Items</th><th>Transport</th><th>Error</th></tr>\n",
    );
    // Newest first, as a log reads.
    for s in samples.iter().rev() {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{:?}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            rfc3339(s.start),
            s.duration,
            s.items,
            esc(s.detail),
            esc(s.error.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table>\n");
    out
}

fn head(title: &str) -> String {
    let t = esc(title);
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t} · meshtrace zpages</title>\n\
         <style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}\
         th,td{{border:1px solid #ccc;padding:.25em .6em;text-align:left}}td.n{{text-align:right}}</style>\n\
         </head><body>\n<nav><a href=\"/debug/servicez\">servicez</a> · <a href=\"/debug/pipelinez\">pipelinez</a> · \
         <a href=\"/debug/extensionz\">extensionz</a> · <a href=\"/debug/featurez\">featurez</a> · \
         <a href=\"/debug/tracez\">tracez</a></nav>\n<h1>{t}</h1>\n"
    )
}

fn tail(mut out: String) -> String {
    out.push_str("</body></html>\n");
    out
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value: everything but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `2026-12-05T23:51:18.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests;
