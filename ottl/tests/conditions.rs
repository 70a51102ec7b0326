//! The condition table: each condition with its result on the three fixed spans of
//! `common` — A (ingress to Grafana), B (kube-probe), C (failed client call) — written as
//! three characters: `T` true, `F` false, `E` evaluation error.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use meshtrace_ottl::memory::{EventView, SpanData};
use meshtrace_ottl::{SpanCondition, SpanEventCondition};

const SPAN_TABLE: &[(&str, &str)] = &[
    // What users run today (the seed's filter processor config).
    (
        r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#,
        "TFF",
    ),
    (
        r#"IsMatch(attributes["upstream_cluster"], "tap-gui/.*")"#,
        "FFF",
    ),
    (
        r#"IsMatch(attributes["http.url"], "https://grafana.*")"#,
        "TFF",
    ),
    (r#"attributes["http.route"] == "/livez""#, "FTF"),
    (r#"attributes["http.route"] == "/readyz""#, "FFF"),
    (
        r#"attributes["user_agent.original"] == "kube-probe//""#,
        "FTF",
    ),
    (
        r#"attributes["user_agent"] == "Knative-Ingress-Probe""#,
        "FFF",
    ),
    (r#"name == "OperationHandler.handle""#, "FTF"),
    // Span fields, qualified and not.
    (r#"span.name == "OperationHandler.handle""#, "FTF"),
    ("kind == SPAN_KIND_SERVER", "TFF"),
    ("kind == 2", "TFF"),
    ("span.kind != SPAN_KIND_CLIENT", "TTF"),
    (r#"kind.string == "Server""#, "TFF"),
    (r#"kind.deprecated_string == "SPAN_KIND_CLIENT""#, "FFT"),
    ("status.code == STATUS_CODE_ERROR", "FFT"),
    ("status.code == STATUS_CODE_OK", "FTF"),
    ("span.status.code != STATUS_CODE_UNSET", "FTT"),
    (r#"IsMatch(status.message, "upstream connect")"#, "FFT"),
    (r#"status.message == """#, "TTF"),
    (
        r#"trace_id.string == "5b8efff798038103d269b633813fc60c""#,
        "TFF",
    ),
    (
        "trace_id == TraceID(0x0af7651916cd43dd8448eb211c80319c)",
        "FTT",
    ),
    (
        r#"trace_id == TraceID("0af7651916cd43dd8448eb211c80319c")"#,
        "FTT",
    ),
    (r#"span_id.string == "00f067aa0ba902b7""#, "FFT"),
    ("span_id == SpanID(0xeee19b7ec3c1b174)", "TFF"),
    ("parent_span_id == SpanID(0x0000000000000000)", "TFF"),
    (r#"parent_span_id.string == "0000000000000000""#, "TFF"),
    ("IsRootSpan()", "TFF"),
    ("not IsRootSpan()", "FTT"),
    ("trace_id == 0x0af7651916cd43dd8448eb211c80319c", "FFF"),
    (
        r#"trace_state == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE""#,
        "TFF",
    ),
    (r#"trace_state["congo"] == "t61rcWkgMzE""#, "TFF"),
    (r#"trace_state["missing"] == """#, "TTF"),
    (r#"trace_state["rojo"] == nil"#, "FFT"),
    ("start_time_unix_nano > 1706175283010000000", "TTF"),
    (
        "end_time_unix_nano - start_time_unix_nano > 1000000000",
        "FFT",
    ),
    (r#"end_time - start_time > Duration("1s")"#, "FFT"),
    (r#"end_time - start_time < Duration("1ms")"#, "FTF"),
    ("Milliseconds(end_time - start_time) == 38", "TFF"),
    ("Seconds(end_time - start_time) == 2.0", "FFT"),
    ("dropped_attributes_count > 0", "FFT"),
    ("dropped_events_count == 1", "TFF"),
    ("dropped_links_count == 0", "TTT"),
    // Resource and scope.
    (
        r#"resource.attributes["service.name"] == "checkout""#,
        "FFT",
    ),
    (
        r#"resource.attributes["k8s.namespace.name"] == "apps""#,
        "FTF",
    ),
    (r#"resource.attributes["missing"] == nil"#, "TTT"),
    (
        r#"resource.schema_url == "https://opentelemetry.io/schemas/1.21.0""#,
        "TFF",
    ),
    ("resource.dropped_attributes_count == 0", "TTT"),
    (r#"instrumentation_scope.name == "envoy""#, "TFT"),
    (r#"scope.version == "1.40.0""#, "TFF"),
    (r#"HasPrefix(instrumentation_scope.version, "1.3")"#, "FTT"),
    (
        r#"instrumentation_scope.attributes["otel.scope.kind"] == "tracer""#,
        "TFF",
    ),
    ("instrumentation_scope.dropped_attributes_count == 0", "TTT"),
    // Attribute value types and comparison rules.
    (r#"attributes["response_size"] == 412"#, "TFF"),
    (r#"attributes["response_size"] > 400"#, "TFF"),
    (r#"attributes["response_size"] >= 412.0"#, "TFF"),
    (r#"attributes["sample.ratio"] < 0.5"#, "TFF"),
    (r#"attributes["sample.ratio"] == 0.25"#, "TFF"),
    (r#"attributes["retry"] == true"#, "TFF"),
    (r#"attributes["retry"] > false"#, "TFF"),
    (r#"attributes["http.status_code"] == "200""#, "TTF"),
    (r#"attributes["http.status_code"] == 503"#, "FFT"),
    (r#"attributes["http.status_code"] >= 500"#, "FFT"),
    (r#"attributes["http.status_code"] != 503"#, "TTF"),
    (r#"Int(attributes["http.status_code"]) >= 200"#, "TTT"),
    (r#"Int(attributes["http.status_code"]) == 503"#, "FFT"),
    (r#"attributes["tags"][1] == "ingress""#, "TFF"),
    (r#"attributes["tags"][5] == "x""#, "EFF"),
    (r#"attributes["k8s"]["pod"] == "grafana-0""#, "TFF"),
    (r#"attributes["k8s"]["labels"]["app"] == "grafana""#, "TFF"),
    (r#"attributes["k8s"]["missing"]["x"] == nil"#, "TTT"),
    (r#"attributes["http.method"]["x"] == nil"#, "EEE"),
    (r#"attributes["payload"] == 0x0102ff"#, "TFF"),
    (r#"attributes["payload"] != nil"#, "TFF"),
    (r#"attributes["empty"] == nil"#, "TTT"),
    (r#"attributes["empty.bytes"] == nil"#, "TTT"),
    (r#"attributes["missing"] == nil"#, "TTT"),
    (r#"attributes["missing"] != nil"#, "FFF"),
    (r#"attributes["tags"] == ["mesh", "ingress", 7]"#, "TFF"),
    (r#"attributes["codes"] == [500, 503]"#, "FFT"),
    (
        r#"attributes["k8s"]["labels"] == {"app": "grafana"}"#,
        "TFF",
    ),
    ("name == 1", "FFF"),
    ("name != 1", "TTT"),
    ("name < 1", "FFF"),
    ("kind < 2.5", "TTF"),
    // Boolean structure.
    (r#"attributes["http.method"] == "GET""#, "TTF"),
    (
        r#"attributes["http.method"] == "GET" and kind == SPAN_KIND_SERVER"#,
        "TFF",
    ),
    (
        r#"attributes["http.method"] == "GET" or status.code == STATUS_CODE_ERROR"#,
        "TTT",
    ),
    (r#"not (attributes["http.method"] == "GET")"#, "FFT"),
    (r#"not attributes["http.method"] == "GET""#, "FFT"),
    (
        r#"(name == "x" or kind == 1) and attributes["http.route"] != nil"#,
        "FTF",
    ),
    (
        r#"name == "x" or kind == 1 and attributes["http.route"] != nil"#,
        "FTF",
    ),
    ("true", "TTT"),
    ("false or not false", "TTT"),
    ("1 == 1", "TTT"),
    ("1 == 1.0", "TTT"),
    (r#""a" < "b""#, "TTT"),
    ("nil == nil", "TTT"),
    ("true > false", "TTT"),
    ("[1, 2] == [1, 2]", "TTT"),
    (r#"{"a": 1} == {"a": 1}"#, "TTT"),
    // Type tests.
    (r#"IsString(attributes["http.method"])"#, "TTT"),
    (r#"IsInt(attributes["http.status_code"])"#, "FFT"),
    (r#"IsDouble(attributes["sample.ratio"])"#, "TFF"),
    (r#"IsBool(attributes["retry"])"#, "TFF"),
    (r#"IsMap(attributes["k8s"])"#, "TFF"),
    (r#"IsList(attributes["tags"])"#, "TFF"),
    (r#"IsList(attributes["codes"])"#, "FFT"),
    (r#"IsEmpty(attributes["empty.list"])"#, "TTT"),
    (r#"IsEmpty(attributes["http.method"])"#, "FFF"),
    // Regexes (RE2, ASCII Perl classes) and string-like conversion of the target.
    (r#"IsMatch(name, "^POST ")"#, "FFT"),
    (
        r#"IsMatch(attributes["response_size"], "^4\\d\\d$")"#,
        "TFF",
    ),
    (r#"IsMatch(attributes["payload"], "^0102ff$")"#, "TFF"),
    (r#"IsMatch(attributes["customer"], "^caf\\w$")"#, "FFF"),
    (r#"IsMatch(attributes["customer"], "^caf.$")"#, "FFT"),
    (
        r#"IsMatch(attributes["k8s"], "\"pod\":\"grafana-0\"")"#,
        "TFF",
    ),
    (
        r#"IsMatch(attributes["http.method"], attributes["http.method"])"#,
        "TTT",
    ),
    // String converters.
    (r#"HasPrefix(name, "POST")"#, "FFT"),
    (r#"HasSuffix(attributes["http.url"], "/health")"#, "TEF"),
    (r#"HasPrefix(attributes["http.url"], "http://")"#, "FET"),
    (
        r#"Concat([attributes["http.method"], name], " ") == "POST POST /api/orders/{id}""#,
        "FFT",
    ),
    (
        r#"Concat([attributes["missing"], "x"], "-") == "<nil>-x""#,
        "TTT",
    ),
    (r#"Concat([kind, status.code], ":") == "3:2""#, "FFT"),
    ("Len(name) == 23", "FTF"),
    (r#"Len(attributes["tags"]) == 3"#, "TEE"),
    ("Len(attributes) > 15", "TFT"),
    ("Len(resource.attributes) == 2", "FTT"),
    (r#"Len(attributes["customer"]) == 5"#, "EET"),
    (r#"ToLowerCase(attributes["http.method"]) == "post""#, "FFT"),
    (
        r#"ToUpperCase(instrumentation_scope.name) == "ENVOY""#,
        "TFT",
    ),
    (
        r#"ConvertCase(name, "snake") == "operation_handler_handle""#,
        "FTF",
    ),
    (r#"ToCamelCase(attributes["http.method"]) == "Post""#, "FFT"),
    (r#"Substring(name, 0, 4) == "POST""#, "FFT"),
    (
        r#"Substring(attributes["http.method"], 0, 10) == "x""#,
        "EEE",
    ),
    (r#"Split(attributes["csv"], ",")[3] == "c""#, "EET"),
    (
        r#"Split(attributes["upstream_cluster"], "|")[0] == "outbound""#,
        "FFT",
    ),
    (
        r#"Len(Split(attributes["upstream_cluster"], "|")) == 4"#,
        "FTT",
    ),
    (r#"Split(name, "/")[1] == "api""#, "FET"),
    (r#"Trim(attributes["padded"]) == "spaced out""#, "EET"),
    (r#"TrimPrefix(name, "POST ") == "/api/orders/{id}""#, "FFT"),
    (
        r#"TrimSuffix(attributes["http.url"], "/42") == "http://orders.apps.svc.cluster.local:8080/api/orders""#,
        "FET",
    ),
    (r#"Index(attributes["http.url"], "grafana") == 8"#, "TEF"),
    (r#"Index(attributes["codes"], 503) == 1"#, "EET"),
    (
        r#"Format("%s %d", [attributes["http.method"], attributes["response_size"]]) == "GET 412""#,
        "TFF",
    ),
    (r#"Format("%04d", [kind]) == "0003""#, "FFT"),
    (
        r#"ExtractPatterns(attributes["http.url"], "^(?P<scheme>\\w+)://(?P<host>[^/:]+)")["host"] == "grafana.tapv-huge-hornet.tapsandbox.com""#,
        "TEF",
    ),
    // Collections.
    (r#"ContainsValue(attributes["tags"], "mesh")"#, "TEE"),
    (
        r#"ContainsValue(["GET", "HEAD"], attributes["http.method"])"#,
        "TTF",
    ),
    (
        r#"ContainsValue([500, 502, 503, 504], attributes["http.status_code"])"#,
        "FFT",
    ),
    (
        r#"Coalesce([attributes["missing"], attributes["http.route"], "none"]) == "/livez""#,
        "FTF",
    ),
    (r#"Coalesce([attributes["missing"], nil]) == nil"#, "TTT"),
    (r#"Keys(resource.attributes)[0] == "service.name""#, "TTT"),
    (
        r#"Values(attributes["k8s"]["labels"])[0] == "grafana""#,
        "TEE",
    ),
    // Conversions.
    (r#"Int("42") == 42"#, "TTT"),
    (r#"Int(attributes["num.string"]) + 1 == 43"#, "EET"),
    (r#"Int(attributes["sample.ratio"] * 10) == 2"#, "TEE"),
    (r#"Double(attributes["float.string"]) == 2.5"#, "FFT"),
    (r#"Double(attributes["customer"]) == nil"#, "TTE"),
    (r#"Int(attributes["customer"]) == nil"#, "TTT"),
    (r#"Int(attributes["k8s"]) == nil"#, "ETT"),
    (r#"Bool(attributes["truthy"])"#, "EET"),
    (r#"Bool(attributes["truthy"]) == true"#, "FFT"),
    (r#"String(attributes["response_size"]) == "412""#, "TFF"),
    (r#"String(attributes["retry"]) == "true""#, "TFF"),
    (r#"String(attributes["payload"]) == "0102ff""#, "TFF"),
    (
        r#"String(attributes["k8s"]) == "{\"labels\":{\"app\":\"grafana\"},\"pod\":\"grafana-0\"}""#,
        "TFF",
    ),
    (r#"Hex(attributes["http.method"]) == "474554""#, "TTF"),
    (r#"ParseInt(attributes["num.string"], 10) == 42"#, "EET"),
    (r#"ParseInt("0x2A", 0) == 42"#, "TTT"),
    (r#"ParseJSON(attributes["json"])["b"][0] == true"#, "EET"),
    (r#"ParseJSON(attributes["json"])["a"] == 1"#, "EET"),
    (
        r#"Base64Encode(attributes["http.method"]) == "R0VU""#,
        "TTF",
    ),
    (
        r#"Decode("aGVsbG8gd29ybGQ=", "base64") == "hello world""#,
        "TTT",
    ),
    // Hashes.
    (
        r#"SHA256(name) == SHA256("OperationHandler.handle")"#,
        "FTF",
    ),
    (
        r#"SHA256(attributes["http.method"]) == "14e30cd163c732912e048c4c837e15c4e90c062ebb795ab947d57706e2d10dd8""#,
        "TTF",
    ),
    (
        r#"MD5(resource.attributes["service.name"]) == MD5("checkout")"#,
        "FFT",
    ),
    (r#"FNV("name") == -4270347329889690746"#, "TTT"),
    (r#"FNV("") == """#, "TTT"),
    // Network and validation.
    (
        r#"IsInCIDR(attributes["peer.address"], ["10.0.0.0/8"])"#,
        "TEE",
    ),
    (
        r#"IsInCIDR(attributes["ip"], ["10.0.0.0/8", "192.168.0.0/16"])"#,
        "EET",
    ),
    (r#"IsValidLuhn(attributes["card"])"#, "EET"),
    // Dynamic keys.
    (r#"attributes[attributes["lookup_key"]] == "POST""#, "EET"),
    (
        r#"attributes[Concat(["http", "method"], ".")] == "GET""#,
        "TTF",
    ),
    (r#"attributes["codes"][attributes["index"]] == 503"#, "FFT"),
    (
        r#"attributes["tags"][0] == "mesh" and attributes["tags"][2] == 7"#,
        "TFF",
    ),
    (r#"cache["x"] == nil"#, "TTT"),
    ("Len(cache) == 0", "TTT"),
    // Time.
    ("UnixSeconds(start_time) == 1706175283", "TFT"),
    ("UnixMilli(end_time) - UnixMilli(start_time) == 38", "TFF"),
    ("Year(start_time) == 2024", "TTT"),
    ("Month(start_time) == 1 and Day(start_time) == 25", "TTT"),
    ("Hour(start_time) == 9", "TTT"),
    ("Weekday(start_time) == 4", "TTT"),
    (
        r#"TruncateTime(start_time, Duration("1h")) == Unix(1706173200)"#,
        "TTT",
    ),
    ("start_time > Unix(1706175290)", "FTF"),
    ("Now() > start_time", "TTT"),
    (r#"Duration("1h30m") == Duration("90m")"#, "TTT"),
    (r#"Hours(Duration("90m")) == 1.5"#, "TTT"),
    // Math.
    (r#"Log(attributes["response_size"]) > 6.0"#, "TEE"),
    (r#"attributes["response_size"] / 4 == 103"#, "TEE"),
    (r#"attributes["response_size"] * 2 + 1 == 825"#, "TEE"),
    (r#"attributes["response_size"] / 0 == 0"#, "EEE"),
    (r#"-attributes["response_size"] == -412"#, "TEE"),
    ("2 * (3 + 4) == 14", "TTT"),
    ("7 / 2 == 3", "TTT"),
    ("7.0 / 2 == 3.5", "TTT"),
    ("010 == 8", "TTT"),
    ("kind * 10 + status.code == 32", "FFT"),
    // Literals.
    (r#""\u00e9" == "é""#, "TTT"),
    ("0x00ff == 0x00FF", "TTT"),
    ("-1.5e3 < -1000", "TTT"),
    (".5 == 0.5", "TTT"),
    (r#""a\tb" != "a b""#, "TTT"),
];

fn outcome(r: Result<bool, meshtrace_ottl::EvalError>) -> char {
    match r {
        Ok(true) => 'T',
        Ok(false) => 'F',
        Err(_) => 'E',
    }
}

#[test]
fn span_conditions_on_fixed_spans() {
    let spans: [SpanData; 3] = [
        common::grafana_ingress(),
        common::kube_probe(),
        common::failed_client(),
    ];
    let mut failures = Vec::new();
    for (src, want) in SPAN_TABLE {
        let cond = match SpanCondition::parse(src) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{src}\n    does not compile: {}", e.render(src)));
                continue;
            }
        };
        let got: String = spans.iter().map(|s| outcome(cond.eval(s))).collect();
        if got != *want {
            let errors: Vec<String> = spans
                .iter()
                .filter_map(|s| cond.eval(s).err().map(|e| e.to_string()))
                .collect();
            failures.push(format!("{src}\n    want {want}, got {got} {errors:?}"));
        }
    }
    assert!(
        SPAN_TABLE.len() >= 200,
        "the table covers at least 200 conditions"
    );
    assert!(
        failures.is_empty(),
        "{} of {} conditions differ:\n{}",
        failures.len(),
        SPAN_TABLE.len(),
        failures.join("\n")
    );
}

const EVENT_TABLE: &[(&str, bool)] = &[
    (r#"name == "upstream_rq_retry""#, true),
    (r#"spanevent.name == "upstream_rq_retry""#, true),
    (r#"attributes["reason"] == "5xx""#, true),
    (r#"spanevent.attributes["retry.attempt"] >= 2"#, false),
    (r#"IsMatch(attributes["reason"], "^5")"#, true),
    (
        r#"span.name == "grafana.tapv-huge-hornet.tapsandbox.com:443/*""#,
        true,
    ),
    (r#"span.attributes["http.method"] == "GET""#, true),
    ("span.kind == SPAN_KIND_SERVER", true),
    ("span.status.code == STATUS_CODE_ERROR", false),
    ("time_unix_nano > span.start_time_unix_nano", true),
    (r#"time - span.start_time == Duration("12ms")"#, true),
    (
        r#"resource.attributes["service.name"] == "istio-ingressgateway""#,
        true,
    ),
    (r#"instrumentation_scope.name == "envoy""#, true),
    ("dropped_attributes_count == 0", true),
    (r#"spanevent.attributes["missing"] == nil"#, true),
];

#[test]
fn span_event_conditions() {
    let span = common::grafana_ingress();
    let view = EventView {
        span: &span,
        event: &span.events[0],
    };
    for (src, want) in EVENT_TABLE {
        let cond = SpanEventCondition::parse(src).unwrap_or_else(|e| panic!("{}", e.render(src)));
        assert_eq!(cond.eval(&view), Ok(*want), "{src}");
    }
}
