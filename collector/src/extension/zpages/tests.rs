use super::*;
use crate::component::{ComponentId, Topology};
use crate::config::{PipelineId, ResolvedPipeline};
use crate::net::query_param;
use proptest::prelude::*;

fn parse(y: &str) -> Result<ZPagesConfig, String> {
    let v = crate::config::value::from_yaml(y).map_err(|e| e.to_string())?;
    crate::registry::parse_typed::<ZPagesConfig>(&v).map_err(|e| e.to_string())
}

fn ids(list: &[&str]) -> Vec<ComponentId> {
    list.iter()
        .map(|s| ComponentId::parse(s).unwrap())
        .collect()
}

fn pages(expvar: bool) -> Pages {
    let telemetry = Arc::new(Telemetry::new("t", "i"));
    telemetry.tracez.enable();
    Pages {
        telemetry,
        topology: Arc::new(Topology {
            pipelines: vec![
                ResolvedPipeline {
                    id: PipelineId::parse("traces").unwrap(),
                    receivers: ids(&["otlp", "zipkin"]),
                    processors: ids(&["memory_limiter", "batch"]),
                    exporters: ids(&["otlp_grpc/tempo"]),
                },
                ResolvedPipeline {
                    id: PipelineId::parse("logs/audit").unwrap(),
                    receivers: ids(&["otlp"]),
                    processors: Vec::new(),
                    exporters: ids(&["debug"]),
                },
            ],
            extensions: vec!["health_check".into(), "zpages".into()],
        }),
        expvar,
        headers: Vec::new(),
    }
}

fn get(p: &Pages, uri: &str) -> (StatusCode, String, http::HeaderMap) {
    let r = p.answer(&http::Method::GET, &uri.parse().unwrap());
    let (parts, body) = r.into_parts();
    let bytes = futures_body(body);
    (
        parts.status,
        String::from_utf8(bytes).unwrap(),
        parts.headers,
    )
}

fn futures_body(b: Full<bytes::Bytes>) -> Vec<u8> {
    use http_body_util::BodyExt;
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(b.collect())
        .unwrap()
        .to_bytes()
        .to_vec()
}

#[test]
fn config_defaults_and_fields() {
    for empty in ["", "{}"] {
        let c = parse(empty).unwrap();
        assert_eq!(c.endpoint, "localhost:55679");
        assert!(!c.expvar.enabled);
        assert!(c.validate().is_empty());
    }
    let c = parse("endpoint: 0.0.0.0:1777\nexpvar: {enabled: true}\nresponse_headers: {X-A: b}\nread_header_timeout: 5s\n").unwrap();
    assert_eq!(c.endpoint, "0.0.0.0:1777");
    assert!(c.expvar.enabled);
    assert_eq!(c.response_headers.get("X-A").map(String::as_str), Some("b"));
    assert_eq!(c.read_header_timeout, Some(Duration::from_secs(5)));

    let bad = parse("endpoint: localhost").unwrap().validate();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].field.as_deref(), Some("endpoint"));
    let e = parse("auth: {authenticator: basicauth}").unwrap_err();
    assert!(e.contains("auth"), "{e}");
    let tls = parse("tls: {}").unwrap().validate();
    assert_eq!(
        tls.iter()
            .filter_map(|e| e.field.as_deref())
            .collect::<Vec<_>>(),
        ["tls.cert_file", "tls.key_file"]
    );
}

#[test]
fn rfc3339_dates() {
    let table = [
        (0, 0, "1970-01-01T00:00:00.000Z"),
        (951_782_400, 0, "2000-02-29T00:00:00.000Z"),
        (1_735_603_200, 999, "2024-12-31T00:00:00.999Z"),
        (1_796_514_678, 123, "2026-12-05T23:51:18.123Z"),
        (4_107_542_400, 0, "2100-03-01T00:00:00.000Z"),
    ];
    for (secs, ms, want) in table {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms);
        assert_eq!(rfc3339(t), want, "{secs}");
    }
}

#[test]
fn query_parameters() {
    let table = [
        (
            "zspanname=exporter%2Fotlp%2Ftraces&ztype=1",
            "zspanname",
            Some("exporter/otlp/traces"),
        ),
        (
            "zspanname=exporter/otlp/traces",
            "zspanname",
            Some("exporter/otlp/traces"),
        ),
        ("ztype=1&ztype=2", "ztype", Some("1")),
        ("a=x+y%20z", "a", Some("x y z")),
        ("a=%zz%4", "a", Some("%zz%4")),
        ("a=%FF", "a", Some("\u{FFFD}")),
        ("a", "a", Some("")),
        ("b=1", "a", None),
        ("", "a", None),
        ("%61=1", "a", Some("1")),
    ];
    for (q, k, want) in table {
        assert_eq!(query_param(q, k).as_deref(), want, "{q}");
    }
    assert_eq!(
        esc("<a href=\"x\">'&'</a>"),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
}

proptest! {
    #[test]
    fn encoded_values_decode_to_themselves(v in ".*", k in "[a-z]{1,8}") {
        let q = format!("other=1&{k}={}&{k}=second", encode(&v));
        prop_assert_eq!(query_param(&q, &k), Some(v));
    }

    #[test]
    fn any_query_is_answered(q in "[ -~]{0,64}") {
        let _ = query_param(&q, "zspanname");
        let p = pages(false);
        let uri = format!("/debug/tracez?{}", encode(&q).replace("%3D", "=").replace("%26", "&"));
        let (status, _, _) = get(&p, &uri);
        prop_assert_eq!(status, StatusCode::OK);
    }
}

#[test]
fn routes() {
    let p = pages(false);
    let (s, _, h) = get(&p, "/");
    assert_eq!(s, StatusCode::FOUND);
    assert_eq!(h[http::header::LOCATION], "/debug/servicez");
    for path in [
        "/debug/servicez",
        "/debug/pipelinez",
        "/debug/extensionz",
        "/debug/featurez",
        "/debug/tracez",
        "/debug/tracez/",
    ] {
        let (s, body, h) = get(&p, path);
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(h[http::header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(body.starts_with("<!DOCTYPE html>") && body.ends_with("</body></html>\n"));
    }
    assert_eq!(get(&p, "/debug/expvarz").0, StatusCode::NOT_FOUND);
    assert_eq!(get(&p, "/debug/rpcz").0, StatusCode::NOT_FOUND);
    let r = p.answer(&http::Method::POST, &"/debug/servicez".parse().unwrap());
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()[http::header::ALLOW], "GET, HEAD");
}

#[test]
fn servicez_and_extensionz() {
    let p = pages(true);
    let (_, body, _) = get(&p, "/debug/servicez");
    assert!(
        body.contains(&format!(
            "<tr><th>Version</th><td>{}</td></tr>",
            env!("CARGO_PKG_VERSION")
        )),
        "{body}"
    );
    assert!(
        body.contains("<a href=\"/debug/pipelinez\">Pipelines</a> (2)"),
        "{body}"
    );
    assert!(
        body.contains("<a href=\"/debug/extensionz\">Extensions</a> (2)"),
        "{body}"
    );
    assert!(body.contains("<a href=\"/debug/expvarz\">"), "{body}");
    let (_, body, _) = get(&p, "/debug/extensionz");
    assert!(
        body.contains("<tr><td>health_check</td></tr>\n<tr><td>zpages</td></tr>\n"),
        "{body}"
    );
}

#[test]
fn pipelinez_lists_components_in_order_with_links() {
    let (_, body, _) = get(&pages(false), "/debug/pipelinez");
    let want = "<tr><td>traces</td><td>traces</td>\
        <td><a href=\"/debug/pipelinez?pipelinenamez=traces&amp;componentnamez=otlp&amp;componentkindz=receiver\">otlp</a>, \
        <a href=\"/debug/pipelinez?pipelinenamez=traces&amp;componentnamez=zipkin&amp;componentkindz=receiver\">zipkin</a></td>\
        <td><a href=\"/debug/pipelinez?pipelinenamez=traces&amp;componentnamez=memory_limiter&amp;componentkindz=processor\">memory_limiter</a> → \
        <a href=\"/debug/pipelinez?pipelinenamez=traces&amp;componentnamez=batch&amp;componentkindz=processor\">batch</a></td>\
        <td><a href=\"/debug/pipelinez?pipelinenamez=traces&amp;componentnamez=otlp_grpc%2Ftempo&amp;componentkindz=exporter\">otlp_grpc/tempo</a></td></tr>\n\
        <tr><td>logs/audit</td><td>logs</td>";
    assert!(body.contains(want), "{body}");
}

#[test]
fn a_component_shows_its_own_metrics() {
    let p = pages(false);
    p.telemetry
        .counter(
            "otelcol_exporter_sent_spans_total",
            "h",
            &[("exporter", "otlp_grpc/tempo")],
        )
        .add(42);
    p.telemetry
        .counter(
            "otelcol_exporter_sent_spans_total",
            "h",
            &[("exporter", "debug")],
        )
        .add(7);
    p.telemetry
        .gauge(
            "otelcol_exporter_queue_size",
            "h",
            &[("exporter", "otlp_grpc/tempo"), ("data_type", "traces")],
        )
        .set(3);
    let (_, body, _) = get(
        &p,
        "/debug/pipelinez?pipelinenamez=traces&componentnamez=otlp_grpc%2Ftempo&componentkindz=exporter",
    );
    assert!(body.contains("<h1>exporter otlp_grpc/tempo</h1>"), "{body}");
    assert!(body.contains("<tr><td>otelcol_exporter_queue_size</td><td>data_type=traces</td><td class=\"n\">3</td></tr>\n<tr><td>otelcol_exporter_sent_spans_total</td><td></td><td class=\"n\">42</td></tr>\n</table>"), "{body}");
    assert!(!body.contains(">7<"), "another exporter's series: {body}");

    let (_, body, _) = get(
        &p,
        "/debug/pipelinez?componentnamez=batch&componentkindz=processor",
    );
    assert!(body.contains("keeps no metrics of its own"), "{body}");
    let (_, body, _) = get(
        &p,
        "/debug/pipelinez?componentnamez=%3Cb%3E&componentkindz=exporter",
    );
    assert!(body.contains("No exporter named &lt;b&gt; runs"), "{body}");
}

#[test]
fn tracez_summarises_and_samples_operations() {
    let p = pages(false);
    let op = p
        .telemetry
        .tracez
        .operation("exporter/otlp_grpc/tempo/traces")
        .unwrap();
    let recv = p
        .telemetry
        .tracez
        .operation("receiver/otlp/TraceDataReceived")
        .unwrap();
    op.start().end(100, "", None);
    op.start().end(50, "", Some(&"rpc error: <unavailable>"));
    let _running = recv.start();

    let (_, body, _) = get(&p, "/debug/tracez");
    let row_start = body
        .find("<tr><td>exporter/otlp_grpc/tempo/traces</td>")
        .unwrap();
    let row = &body[row_start..body[row_start..].find("</tr>").unwrap() + row_start];
    let fast = op.latency_counts();
    assert_eq!(fast.iter().sum::<u64>(), 2);
    for (b, n) in fast.iter().enumerate() {
        if *n > 0 {
            assert!(row.contains(&format!("zspanname=exporter%2Fotlp_grpc%2Ftempo%2Ftraces&amp;ztype=1&amp;zlatencybucket={b}\">{n}</a>")), "{row}");
        }
    }
    assert!(row.ends_with("ztype=2\">1</a></td>"), "{row}");
    assert!(
        body.contains("<tr><td>receiver/otlp/TraceDataReceived</td><td class=\"n\">1</td>"),
        "{body}"
    );

    let (_, body, _) = get(
        &p,
        "/debug/tracez?zspanname=exporter%2Fotlp_grpc%2Ftempo%2Ftraces&ztype=2",
    );
    assert!(
        body.contains("<h2>Latest failures of exporter/otlp_grpc/tempo/traces</h2>"),
        "{body}"
    );
    assert!(
        body.contains("<td class=\"n\">50</td><td></td><td>rpc error: &lt;unavailable&gt;</td>"),
        "{body}"
    );
    assert!(!body.contains("<td class=\"n\">100</td>"), "{body}");

    let b = fast.iter().position(|n| *n > 0).unwrap();
    let (_, body, _) = get(
        &p,
        &format!(
            "/debug/tracez?zspanname=exporter/otlp_grpc/tempo/traces&ztype=1&zlatencybucket={b}"
        ),
    );
    assert!(
        body.contains(&format!("taking {}</h2>", esc(BUCKET_LABELS[b]))),
        "{body}"
    );
    assert!(
        body.contains("<td class=\"n\">100</td>") || body.contains("<td class=\"n\">50</td>"),
        "{body}"
    );

    let (_, body, _) = get(&p, "/debug/tracez?zspanname=nope&ztype=1");
    assert!(body.contains("<h2>No operation named nope.</h2>"), "{body}");
    let (_, body, _) = get(
        &p,
        "/debug/tracez?zspanname=receiver%2Fotlp%2FTraceDataReceived&ztype=0",
    );
    assert!(body.contains("counted, not listed"), "{body}");
}

#[test]
fn expvarz_and_response_headers() {
    let mut p = pages(true);
    p.headers.push((
        http::HeaderName::from_static("x-team"),
        http::HeaderValue::from_static("tracing"),
    ));
    let (s, body, h) = get(&p, "/debug/expvarz");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[http::header::CONTENT_TYPE], "application/json");
    assert_eq!(h["x-team"], "tracing");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["cmdline"].is_array(), "{v}");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["process"]["rss_bytes"].as_f64().unwrap() > 0.0, "{v}");
    assert_eq!(get(&p, "/nope").2["x-team"], "tracing");
}
