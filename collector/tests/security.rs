//! Issue 6, "Show it": TLS and authentication on receivers and exporters, with certificates
//! generated at test time. Plaintext to a TLS receiver fails, a client certificate from
//! another CA fails, a missing or wrong token or password gets 401 / `UNAUTHENTICATED`, the
//! right one is accepted — and no secret ever appears in the collector's logs.

// Test code: failing loudly is the point (clippy.toml only exempts #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::certs::{Certs, client_tls, https};
use common::*;
use meshtrace_collector::otlp::Signal;
use std::collections::BTreeSet;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

fn pem(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

fn tls_endpoint(addr: &str, certs: &Certs, identity: bool) -> Endpoint {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pem(&certs.ca)))
        .domain_name("localhost");
    if identity {
        tls = tls.identity(Identity::from_pem(
            pem(&certs.client_cert),
            pem(&certs.client_key),
        ));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
}

#[test]
fn tls_receivers_refuse_plaintext_and_foreign_client_certificates() {
    let d = TempDir::new();
    let certs = Certs::generate(&d.0);
    let c = Collector::start(&format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
        tls:
          cert_file: {cert}
          key_file: {key}
          min_version: "1.3"
      http:
        endpoint: 127.0.0.1:0
        tls:
          cert_file: {cert}
          key_file: {key}
          client_ca_file: {ca}
exporters:
  file:
    path: {{dir}}/out.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
{TEST_TELEMETRY}"#,
        cert = certs.server_cert.display(),
        key = certs.server_key.display(),
        ca = certs.ca.display(),
    ));
    let http_addr = c.addr("receivers::otlp/http");
    let grpc_addr = c.addr("receivers::otlp/grpc");
    let url = format!(
        "https://localhost:{}/v1/traces",
        http_addr.rsplit_once(':').unwrap().1
    );
    let h = [("content-type", "application/x-protobuf")];
    let body = || spans_request("tls", 0..2);

    // HTTP: plaintext, no client certificate, a certificate from another CA: all refused.
    assert!(post_spans(&format!("http://{http_addr}"), body()).is_err());
    let no_cert = https(client_tls(&certs.ca, None), &url, &h, body());
    assert!(no_cert.is_err(), "{no_cert:?}");
    let rogue = https(
        client_tls(&certs.ca, Some((&certs.rogue_cert, &certs.rogue_key))),
        &url,
        &h,
        body(),
    );
    assert!(rogue.is_err(), "{rogue:?}");
    // A client that does not trust the server's CA refuses the server.
    let untrusted = https(
        client_tls(
            &certs.rogue_cert,
            Some((&certs.client_cert, &certs.client_key)),
        ),
        &url,
        &h,
        body(),
    );
    assert!(untrusted.is_err(), "{untrusted:?}");
    let ok = https(
        client_tls(&certs.ca, Some((&certs.client_cert, &certs.client_key))),
        &url,
        &h,
        spans_request("tls", 0..2),
    );
    assert_eq!(ok.unwrap().0, 200);

    // gRPC: plaintext refused; TLS 1.3 with the CA accepted.
    assert!(
        grpc_export(
            &format!("http://{grpc_addr}"),
            Signal::Traces,
            body(),
            false
        )
        .is_err()
    );
    let port = grpc_addr.rsplit_once(':').unwrap().1;
    grpc_export_with(
        tls_endpoint(&format!("localhost:{port}"), &certs, false),
        &[],
        spans_request("tls", 2..4),
    )
    .unwrap();

    let out = c.dir.path("out.jsonl");
    eventually("the accepted spans", || {
        let got: BTreeSet<u64> = span_ids_in_file(&out).into_iter().collect();
        (got == BTreeSet::from([0, 1, 2, 3])).then_some(())
    });
}

#[test]
fn missing_or_wrong_credentials_get_401_and_unauthenticated() {
    let d = TempDir::new();
    let htpasswd = d.path("htpasswd");
    std::fs::write(
        &htpasswd,
        format!("envoy:{}\n", bcrypt::hash("pa55-word", 4).unwrap()),
    )
    .unwrap();
    let c = Collector::start_with(
        &format!(
            r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
        auth:
          authenticator: bearertokenauth
      grpc:
        endpoint: 127.0.0.1:0
        auth:
          authenticator: basicauth
processors:
  attributes:
    actions:
      - {{key: tenant, from_context: auth.username, action: insert}}
exporters:
  file:
    path: {{dir}}/out.jsonl
extensions:
  bearertokenauth:
    token: ${{env:RECEIVER_TOKEN}}
  basicauth:
    htpasswd:
      file: {}
service:
  extensions: [bearertokenauth, basicauth]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [attributes]
      exporters: [file]
{TEST_TELEMETRY}"#,
            htpasswd.display()
        ),
        &[],
        &[("RECEIVER_TOKEN", "tok-7f3a9c")],
    );
    let url = format!("{}/v1/traces", c.http_url());
    let post = |auth: Option<&str>| {
        let mut h = vec![("content-type", "application/x-protobuf")];
        if let Some(a) = auth {
            h.push(("authorization", a));
        }
        http("POST", &url, &h, spans_request("auth", 0..1))
            .unwrap()
            .0
    };
    assert_eq!(post(None), 401);
    assert_eq!(post(Some("Bearer wrong")), 401);
    assert_eq!(post(Some("Basic dG9rLTdmM2E5Yzp4")), 401);
    assert_eq!(post(Some("Bearer tok-7f3a9c")), 200);
    // Like every OTLP/HTTP error, the refusal is a google.rpc.Status in the request's
    // encoding: code 16 (UNAUTHENTICATED) and the reason.
    let (_, h, body) = http(
        "POST",
        &url,
        &[("content-type", "application/json")],
        b"{}".to_vec(),
    )
    .unwrap();
    assert_eq!(h["content-type"], "application/json");
    let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status["code"], 16, "{status}");
    assert!(
        status["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{status}"
    );
    let (_, h, body) = http(
        "POST",
        &url,
        &[("content-type", "application/x-protobuf")],
        spans_request("auth", 0..1),
    )
    .unwrap();
    assert_eq!(h["content-type"], "application/x-protobuf");
    assert_eq!(&body[..2], &[0x08, 16], "{body:?}");

    let grpc = |auth: Option<String>| {
        let md: Vec<(&'static str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        grpc_export_with(
            Endpoint::from_shared(c.grpc_url()).unwrap(),
            &md,
            spans_request("auth", 1..2),
        )
    };
    use base64::Engine as _;
    let basic = |u: &str, p: &str| {
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        ))
    };
    assert_eq!(grpc(None).unwrap_err().code(), tonic::Code::Unauthenticated);
    assert_eq!(
        grpc(basic("envoy", "wrong")).unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        grpc(basic("nobody", "pa55-word")).unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        grpc(Some("Bearer tok-7f3a9c".into())).unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    grpc(basic("envoy", "pa55-word")).unwrap();

    assert_eq!(
        c.metric("meshtrace_receiver_unauthenticated_requests_total{receiver=\"otlp\""),
        9.0,
        "three refused over HTTP, four over gRPC, and the two whose answers were read"
    );
    assert_eq!(
        c.metric("otelcol_receiver_accepted_spans_total{receiver=\"otlp\""),
        2.0
    );
    let logs = c.log_text();
    for secret in ["tok-7f3a9c", "pa55-word", "dG9rLTdmM2E5Yzp4"] {
        assert!(!logs.contains(secret), "{secret} in the logs");
    }
    // basicauth passes the user on: `from_context: auth.username` tags the gRPC span with
    // it; the bearer token's span (HTTP) has no user.
    let out = c.dir.path("out.jsonl");
    let text = eventually("both spans in the file", || {
        let t = std::fs::read_to_string(&out).ok()?;
        (t.lines().count() >= 2).then_some(t)
    });
    let tenants: Vec<Option<String>> = text
        .lines()
        .flat_map(|l| {
            let req: serde_json::Value = serde_json::from_str(l).unwrap();
            let spans = req["resourceSpans"][0]["scopeSpans"][0]["spans"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            spans.into_iter().map(|s| {
                s["attributes"].as_array().and_then(|a| {
                    a.iter()
                        .find(|kv| kv["key"] == "tenant")
                        .and_then(|kv| kv["value"]["stringValue"].as_str().map(str::to_owned))
                })
            })
        })
        .collect();
    assert_eq!(tenants.len(), 2, "{text}");
    assert!(tenants.contains(&Some("envoy".to_owned())), "{text}");
    assert!(tenants.contains(&None), "{text}");
}

#[test]
fn exporters_authenticate_over_mutual_tls_and_secrets_stay_out_of_logs() {
    let d = TempDir::new();
    let certs = Certs::generate(&d.0);
    let token_file = d.path("token");
    std::fs::write(&token_file, "tok-from-a-file-91b2\n").unwrap();
    let secrets = [
        ("BACKEND_TOKEN", "tok-from-a-file-91b2"),
        ("API_KEY", "api-key-5e8d0c"),
        ("BASIC_USER", "front"),
        ("BASIC_PASS", "pw-3c1d77"),
    ];
    let backend = Collector::start_with(
        &format!(
            r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
        tls:
          cert_file: {cert}
          key_file: {key}
          client_ca_file: {ca}
        auth:
          authenticator: bearertokenauth
      http:
        endpoint: 127.0.0.1:0
        tls:
          cert_file: {cert}
          key_file: {key}
        auth:
          authenticator: basicauth
exporters:
  file:
    path: {{dir}}/out.jsonl
  debug:
    verbosity: detailed
extensions:
  bearertokenauth:
    filename: {token}
  basicauth:
    htpasswd:
      inline: |
        ${{env:BASIC_USER}}:${{env:BASIC_PASS}}
service:
  extensions: [bearertokenauth, basicauth]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file, debug]
{TEST_TELEMETRY}"#,
            cert = certs.server_cert.display(),
            key = certs.server_key.display(),
            ca = certs.ca.display(),
            token = token_file.display(),
        ),
        &[],
        &secrets,
    );
    let grpc_port = backend
        .addr("receivers::otlp/grpc")
        .rsplit_once(':')
        .unwrap()
        .1
        .to_owned();
    let http_port = backend
        .addr("receivers::otlp/http")
        .rsplit_once(':')
        .unwrap()
        .1
        .to_owned();
    let front_config = |token: &str| {
        format!(
            r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlp_grpc:
    endpoint: localhost:{grpc_port}
    headers:
      x-api-key: ${{env:API_KEY}}
    tls:
      ca_file: {ca}
      cert_file: {ccert}
      key_file: {ckey}
    auth:
      authenticator: bearertokenauth
    retry_on_failure:
      enabled: false
  otlp_http:
    endpoint: https://127.0.0.1:{http_port}
    tls:
      ca_file: {ca}
      server_name_override: localhost
      min_version: "1.2"
    auth:
      authenticator: basicauth
extensions:
  bearertokenauth:
    token: {token}
  basicauth:
    client_auth:
      username: ${{env:BASIC_USER}}
      password: ${{env:BASIC_PASS}}
service:
  extensions: [bearertokenauth, basicauth]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc, otlp_http]
{TEST_TELEMETRY}"#,
            ca = certs.ca.display(),
            ccert = certs.client_cert.display(),
            ckey = certs.client_key.display(),
        )
    };
    let front = Collector::start_with(
        &front_config(&format!("${{file:{}}}", token_file.display())),
        &[],
        &secrets,
    );
    assert_eq!(
        post_spans(&front.http_url(), spans_request("mtls", 0..3)).unwrap(),
        200
    );
    let out = backend.dir.path("out.jsonl");
    // Each span twice: once over gRPC (mTLS + bearer), once over HTTPS (basic).
    eventually("spans over both exporters", || {
        let mut got = span_ids_in_file(&out);
        got.sort_unstable();
        (got == [0, 0, 1, 1, 2, 2]).then_some(())
    });

    // A front with the wrong token: the backend refuses it, and it says so without the token.
    let wrong = Collector::start_with(&front_config("tok-wrong-0a0a"), &[], &secrets);
    assert_eq!(
        post_spans(&wrong.http_url(), spans_request("wrong", 10..11)).unwrap(),
        200
    );
    eventually("the refusal counted", || {
        (backend.metric("meshtrace_receiver_unauthenticated_requests_total{receiver=\"otlp\"")
            >= 1.0)
            .then_some(())
    });
    eventually("the failure reported", || {
        (wrong.metric("otelcol_exporter_send_failed_spans_total{exporter=\"otlp_grpc\"") >= 1.0)
            .then_some(())
    });
    assert!(
        wrong.log_text().contains("Unauthenticated"),
        "{}",
        wrong.log_text()
    );

    let mut all = String::new();
    for c in [&backend, &front, &wrong] {
        all.push_str(&c.log_text());
    }
    assert!(all.contains("mtls"), "the debug exporter wrote the spans");
    for secret in [
        "tok-from-a-file-91b2",
        "api-key-5e8d0c",
        "pw-3c1d77",
        "tok-wrong-0a0a",
        "ZnJvbnQ6cHctM2MxZDc3",
    ] {
        assert!(!all.contains(secret), "{secret} appears in the logs");
    }
}

/// A Zipkin v2 JSON body with one span whose id is `id`.
fn zipkin_span(id: u64) -> Vec<u8> {
    format!(
        r#"[{{"traceId":"5b8efff798038103d269b633813fc60c","id":"{id:016x}","name":"zipkin-{id}","timestamp":1706175283018000,"duration":1000,"localEndpoint":{{"serviceName":"zipkin-tls"}}}}]"#
    )
    .into_bytes()
}

/// A client that speaks TLS 1.2 only, trusting `ca`.
fn tls12_only_client(ca: &std::path::Path) -> rustls::ClientConfig {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut std::fs::read(ca).unwrap().as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

#[test]
fn zipkin_receiver_takes_tls_mutual_tls_and_bearer_tokens() {
    let d = TempDir::new();
    let certs = Certs::generate(&d.0);
    let c = Collector::start_with(
        &format!(
            r#"
receivers:
  zipkin:
    endpoint: 127.0.0.1:0
    tls:
      cert_file: {cert}
      key_file: {key}
      client_ca_file: {ca}
    auth:
      authenticator: bearertokenauth
  zipkin/tls13:
    endpoint: 127.0.0.1:0
    tls:
      cert_file: {cert}
      key_file: {key}
      min_version: "1.3"
exporters:
  file:
    path: {{dir}}/out.jsonl
extensions:
  bearertokenauth:
    token: ${{env:ZIPKIN_TOKEN}}
service:
  extensions: [bearertokenauth]
  pipelines:
    traces:
      receivers: [zipkin, zipkin/tls13]
      exporters: [file]
{TEST_TELEMETRY}"#,
            cert = certs.server_cert.display(),
            key = certs.server_key.display(),
            ca = certs.ca.display(),
        ),
        &[],
        &[("ZIPKIN_TOKEN", "zk-tok-4d2e")],
    );
    let addr = c.addr("receivers::zipkin");
    let port = addr.rsplit_once(':').unwrap().1;
    let url = format!("https://localhost:{port}/api/v2/spans");
    let mtls = || client_tls(&certs.ca, Some((&certs.client_cert, &certs.client_key)));
    let json = ("content-type", "application/json");

    // TLS is required: plaintext, no client certificate, another CA's certificate all fail.
    assert!(
        http(
            "POST",
            &format!("http://{addr}/api/v2/spans"),
            &[json],
            zipkin_span(1)
        )
        .is_err()
    );
    let no_cert = https(client_tls(&certs.ca, None), &url, &[json], zipkin_span(1));
    assert!(no_cert.is_err(), "{no_cert:?}");
    let rogue = https(
        client_tls(&certs.ca, Some((&certs.rogue_cert, &certs.rogue_key))),
        &url,
        &[json],
        zipkin_span(1),
    );
    assert!(rogue.is_err(), "{rogue:?}");

    // Over mutual TLS: the token decides.
    let post = |auth: Option<&str>, id: u64| {
        let mut h = vec![json];
        if let Some(a) = auth {
            h.push(("authorization", a));
        }
        let (status, body) = https(mtls(), &url, &h, zipkin_span(id)).unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    assert_eq!(post(None, 2).0, 401);
    assert_eq!(post(Some("Bearer wrong"), 3).0, 401);
    assert_eq!(post(Some("zk-tok-4d2e"), 4).0, 401);
    assert_eq!(post(Some("Bearer zk-tok-4d2e"), 5), (202, String::new()));

    // min_version 1.3: a TLS 1.2-only client fails the handshake; a 1.3 one is served.
    let port13 = c
        .addr("receivers::zipkin/tls13")
        .rsplit_once(':')
        .unwrap()
        .1
        .to_owned();
    let url13 = format!("https://localhost:{port13}/api/v2/spans");
    let old = https(
        tls12_only_client(&certs.ca),
        &url13,
        &[json],
        zipkin_span(6),
    );
    assert!(old.is_err(), "{old:?}");
    assert_eq!(
        https(client_tls(&certs.ca, None), &url13, &[json], zipkin_span(7))
            .unwrap()
            .0,
        202
    );

    let out = c.dir.path("out.jsonl");
    eventually("the accepted spans", || {
        let got: BTreeSet<u64> = span_ids_in_file(&out).into_iter().collect();
        (got == BTreeSet::from([5, 7])).then_some(())
    });
    assert_eq!(
        c.metric("meshtrace_receiver_unauthenticated_requests_total{receiver=\"zipkin\""),
        3.0
    );
    assert!(
        !c.log_text().contains("zk-tok-4d2e"),
        "the token is in the logs"
    );
}

#[test]
fn tls_1_2_clients_are_refused_by_a_1_3_only_receiver_and_grpc_checks_client_certificates() {
    let d = TempDir::new();
    let certs = Certs::generate(&d.0);
    let c = Collector::start(&format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
        tls:
          cert_file: {cert}
          key_file: {key}
          client_ca_file: {ca}
      http:
        endpoint: 127.0.0.1:0
        tls:
          cert_file: {cert}
          key_file: {key}
          min_version: "1.3"
exporters:
  file:
    path: {{dir}}/out.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
{TEST_TELEMETRY}"#,
        cert = certs.server_cert.display(),
        key = certs.server_key.display(),
        ca = certs.ca.display(),
    ));
    let http_port = c
        .addr("receivers::otlp/http")
        .rsplit_once(':')
        .unwrap()
        .1
        .to_owned();
    let url = format!("https://localhost:{http_port}/v1/traces");
    let h = [("content-type", "application/x-protobuf")];
    let old = https(
        tls12_only_client(&certs.ca),
        &url,
        &h,
        spans_request("tls12", 0..1),
    );
    assert!(old.is_err(), "{old:?}");
    assert_eq!(
        https(
            client_tls(&certs.ca, None),
            &url,
            &h,
            spans_request("tls13", 1..2)
        )
        .unwrap()
        .0,
        200
    );

    // gRPC with mutual TLS: no certificate, or one from another CA, fails; ours is served.
    let grpc_port = c
        .addr("receivers::otlp/grpc")
        .rsplit_once(':')
        .unwrap()
        .1
        .to_owned();
    let endpoint = |identity: Option<(&std::path::Path, &std::path::Path)>| {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(pem(&certs.ca)))
            .domain_name("localhost");
        if let Some((cert, key)) = identity {
            tls = tls.identity(Identity::from_pem(pem(cert), pem(key)));
        }
        Endpoint::from_shared(format!("https://localhost:{grpc_port}"))
            .unwrap()
            .tls_config(tls)
            .unwrap()
    };
    assert!(grpc_export_with(endpoint(None), &[], spans_request("none", 2..3)).is_err());
    assert!(
        grpc_export_with(
            endpoint(Some((&certs.rogue_cert, &certs.rogue_key))),
            &[],
            spans_request("rogue", 3..4)
        )
        .is_err()
    );
    grpc_export_with(
        endpoint(Some((&certs.client_cert, &certs.client_key))),
        &[],
        spans_request("mtls", 4..5),
    )
    .unwrap();

    let out = c.dir.path("out.jsonl");
    eventually("the accepted spans", || {
        let got: BTreeSet<u64> = span_ids_in_file(&out).into_iter().collect();
        (got == BTreeSet::from([1, 4])).then_some(())
    });
}

/// A web app's OpenTelemetry JS exporter, as a browser drives it: a preflight without
/// credentials, then the POST with its token. The Collector's `cors:` sections work as they
/// do there (confighttp, rs/cors), ahead of authentication, on both HTTP receivers.
#[test]
fn browsers_preflight_without_credentials_and_post_across_origins() {
    let c = Collector::start_with(
        &format!(
            r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
        auth:
          authenticator: bearertokenauth
        cors:
          allowed_origins: ["https://*.shop.example"]
          allowed_headers: [Authorization]
          max_age: 600
        # Set first, as in the Collector: CORS adds to Vary and has the last word on its own.
        response_headers:
          vary: Accept-Encoding
          access-control-allow-origin: https://stale.example
  zipkin:
    endpoint: 127.0.0.1:0
    cors:
      allowed_origins: ["*"]
exporters:
  file:
    path: {{dir}}/out.jsonl
extensions:
  bearertokenauth:
    token: web-tok-91c
service:
  extensions: [bearertokenauth]
  pipelines:
    traces:
      receivers: [otlp, zipkin]
      exporters: [file]
{TEST_TELEMETRY}"#
        ),
        &[],
        &[],
    );
    let url = format!("{}/v1/traces", c.http_url());
    let show = |h: &http::HeaderMap, names: &[&str]| -> Vec<String> {
        names
            .iter()
            .flat_map(|n| {
                h.get_all(*n)
                    .iter()
                    .map(move |v| format!("{n}: {}", v.to_str().unwrap()))
            })
            .collect()
    };
    const ALLOW: [&str; 6] = [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-allow-credentials",
        "access-control-max-age",
        "vary",
    ];
    let preflight = |origin: &str, headers: &str| {
        let (status, h, body) = http(
            "OPTIONS",
            &url,
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", headers),
            ],
            Vec::new(),
        )
        .unwrap();
        assert!(body.is_empty());
        (status, show(&h, &ALLOW))
    };
    assert_eq!(
        preflight("https://app.shop.example", "authorization,content-type"),
        (
            204,
            vec![
                "access-control-allow-origin: https://app.shop.example".to_owned(),
                "access-control-allow-methods: POST".to_owned(),
                "access-control-allow-headers: authorization,content-type".to_owned(),
                "access-control-allow-credentials: true".to_owned(),
                "access-control-max-age: 600".to_owned(),
                "vary: Accept-Encoding".to_owned(),
                "vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
                    .to_owned(),
            ]
        )
    );
    // Another site, or a header not allowed: still 204, without the grant.
    for (origin, headers) in [
        ("https://evil.example", "authorization,content-type"),
        ("https://app.shop.example", "authorization,x-tenant"),
    ] {
        assert_eq!(
            preflight(origin, headers),
            (
                204,
                vec![
                    "access-control-allow-origin: https://stale.example".to_owned(),
                    "vary: Accept-Encoding".to_owned(),
                    "vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
                        .to_owned()
                ]
            ),
            "{origin} {headers}"
        );
    }
    // The POST: granted to the app's origin, refused or not; the token decides acceptance.
    let post = |origin: &str, token: Option<&str>| {
        let mut h = vec![
            ("content-type", "application/x-protobuf"),
            ("origin", origin),
        ];
        let bearer = token.map(|t| format!("Bearer {t}"));
        if let Some(b) = &bearer {
            h.push(("authorization", b.as_str()));
        }
        let (status, headers, _) = http("POST", &url, &h, spans_request("web", 0..1)).unwrap();
        (status, show(&headers, &ALLOW))
    };
    let granted = |o: &str| {
        vec![
            format!("access-control-allow-origin: {o}"),
            "access-control-allow-credentials: true".to_owned(),
            "vary: Accept-Encoding".to_owned(),
            "vary: Origin".to_owned(),
        ]
    };
    assert_eq!(
        post("https://app.shop.example", Some("web-tok-91c")),
        (200, granted("https://app.shop.example"))
    );
    assert_eq!(
        post("https://app.shop.example", None),
        (401, granted("https://app.shop.example")),
        "the page can read why it was refused"
    );
    assert_eq!(
        post("https://evil.example", Some("web-tok-91c")),
        (
            200,
            vec![
                "access-control-allow-origin: https://stale.example".to_owned(),
                "vary: Accept-Encoding".to_owned(),
                "vary: Origin".to_owned()
            ]
        ),
        "CORS is the browser's guard, not the server's: only the grant is withheld"
    );
    // Zipkin, any origin.
    let (status, h, _) = http(
        "POST",
        &format!("http://{}/api/v2/spans", c.addr("receivers::zipkin")),
        &[
            ("content-type", "application/json"),
            ("origin", "https://legacy.example"),
        ],
        zipkin_span(7),
    )
    .unwrap();
    assert_eq!(
        (status, show(&h, &ALLOW)),
        (
            202,
            vec![
                "access-control-allow-origin: *".to_owned(),
                "access-control-allow-credentials: true".to_owned(),
                "vary: Origin".to_owned(),
            ]
        )
    );
    assert_eq!(
        c.metric("otelcol_receiver_accepted_spans_total{receiver=\"otlp\""),
        2.0
    );
}
