//! `send` against `sink`, as processes: every span the generator says was accepted is one the
//! sink decoded, no more, no fewer, over gRPC and HTTP, with and without gzip; refusals show
//! up on both sides. Counts only: no timing is asserted.

// Test helpers outside `#[test]` functions: a failed expectation should fail the test loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_meshtrace-loadgen");

/// A sink process, killed when dropped.
struct Sink {
    child: Child,
    stdout: BufReader<ChildStdout>,
    grpc: String,
    http: String,
}

impl Sink {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args([
                "sink",
                "--grpc",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
                "--threads",
                "1",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the sink");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("the sink prints its addresses");
        let addrs: Value = serde_json::from_str(&line).expect("address line is JSON");
        Self {
            grpc: addrs["grpc"].as_str().unwrap().to_owned(),
            http: addrs["http"].as_str().unwrap().to_owned(),
            child,
            stdout,
        }
    }

    fn stats(&self) -> Value {
        serde_json::from_str(&http(&self.http, "GET", "/stats")).expect("stats are JSON")
    }

    /// SIGTERM, then the final stats it prints.
    fn stop(mut self) -> Value {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        assert!(
            self.child.wait().unwrap().success(),
            "the sink exits cleanly on SIGTERM"
        );
        serde_json::from_str(rest.trim()).expect("final stats are JSON")
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 exchange; returns the body.
fn http(addr: &str, method: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    resp.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

/// Runs `send` for exactly `requests` requests and returns its JSON report.
fn send(protocol: &str, endpoint: &str, spans: u64, requests: u64, extra: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args([
            "send",
            "--protocol",
            protocol,
            "--endpoint",
            endpoint,
            "--json",
        ])
        .args([
            "--spans-per-request",
            &spans.to_string(),
            "--requests",
            &requests.to_string(),
        ])
        // Generous: the request count ends the run, the duration is only a backstop.
        .args(["--duration", "10m"])
        .args(extra)
        .output()
        .expect("run send");
    assert!(
        out.status.success(),
        "send failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("send --json prints one JSON object")
}

fn n(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn every_accepted_span_reaches_the_sink_exactly_once() {
    let sink = Sink::start(&["--distinct"]);
    let http_endpoint = format!("http://{}", sink.http);
    let runs = [
        send("grpc", &sink.grpc, 10, 300, &["--seed", "1", "-c", "4"]),
        send(
            "grpc",
            &sink.grpc,
            100,
            40,
            &["--seed", "2", "-c", "3", "--gzip", "--gzip-pool", "40"],
        ),
        send("http", &http_endpoint, 7, 200, &["--seed", "3", "-c", "4"]),
        send(
            "http",
            &http_endpoint,
            50,
            30,
            &["--seed", "4", "--gzip", "--gzip-pool", "30"],
        ),
        // Open loop; the default cap of 1000 in flight is never reached at this rate.
        send(
            "grpc",
            &sink.grpc,
            20,
            60,
            &["--seed", "5", "--rate", "6000"],
        ),
    ];
    let expected = [(300, 10), (40, 100), (200, 7), (30, 50), (60, 20)];
    for (report, (requests, spans)) in runs.iter().zip(expected) {
        assert_eq!(n(report, "requests_ok"), requests, "{report}");
        assert_eq!(n(report, "requests_failed"), 0, "{report}");
        assert_eq!(n(report, "spans_accepted"), requests * spans, "{report}");
    }
    let total: u64 = runs.iter().map(|r| n(r, "spans_accepted")).sum();

    let stats = sink.stats();
    assert_eq!(n(&stats, "grpc_requests"), 300 + 40 + 60);
    assert_eq!(n(&stats, "http_requests"), 200 + 30);
    assert_eq!(n(&stats, "spans"), total);
    assert_eq!(
        n(&stats, "resource_spans"),
        630,
        "one resource (proxy) per request"
    );
    assert_eq!(
        n(&stats, "distinct_span_ids"),
        total,
        "no span id repeats across the runs"
    );
    assert_eq!(n(&stats, "duplicate_span_ids"), 0);
    assert_eq!(n(&stats, "invalid_ids"), 0);
    assert_eq!(n(&stats, "bad_requests"), 0);

    let last = sink.stop();
    assert_eq!(n(&last, "spans"), total, "the exit report agrees");
}

#[test]
fn refusals_are_counted_on_both_sides_and_lift_on_request() {
    let sink = Sink::start(&["--refuse-for", "10m"]);
    let http_endpoint = format!("http://{}", sink.http);
    let grpc = send("grpc", &sink.grpc, 10, 5, &["--concurrency", "1"]);
    assert_eq!(n(&grpc, "requests_failed"), 5);
    assert_eq!(grpc["errors"]["grpc_unavailable"], 5, "{grpc}");
    let h = send("http", &http_endpoint, 10, 3, &["--concurrency", "1"]);
    assert_eq!(h["errors"]["http_503"], 3, "{h}");
    assert_eq!(n(&h, "spans_failed"), 30);

    http(&sink.http, "POST", "/control/refuse?seconds=0");
    let ok = send("grpc", &sink.grpc, 10, 5, &[]);
    assert_eq!(n(&ok, "spans_accepted"), 50);
    let stats = sink.stats();
    assert_eq!((n(&stats, "refused_requests"), n(&stats, "spans")), (8, 50));

    http(&sink.http, "POST", "/control/reset");
    assert_eq!(n(&sink.stats(), "spans"), 0);
}

#[test]
fn recorded_ids_match_the_spans() {
    let dir = std::env::temp_dir().join(format!("loadgen-ids-{}", std::process::id()));
    let file = dir.to_string_lossy().into_owned();
    let sink = Sink::start(&["--record-ids", &file]);
    let report = send("grpc", &sink.grpc, 25, 40, &[]);
    let last = sink.stop();
    let ids = std::fs::read_to_string(&dir).unwrap();
    let _ = std::fs::remove_file(&dir);
    assert_eq!(n(&report, "spans_accepted"), 1000);
    assert_eq!(n(&last, "distinct_span_ids"), 1000);
    let lines: Vec<&str> = ids.lines().collect();
    assert_eq!(lines.len(), 1000);
    assert!(
        lines
            .iter()
            .all(|l| l.len() == 32 + 1 + 16 && l.as_bytes()[32] == b' '),
        "{:?}",
        lines[0]
    );
}
