//! A whole request through the tracer with arbitrary request headers and stream properties:
//! never panics, and the export batch it produces is always accepted by the collector's OTLP
//! validator (valid UTF-8 everywhere, 16/8-byte ids, well-formed protobuf).
//!
//! Input: 64 bytes of property values (direction, status, flags, sizes; also the response's
//! `:status` and `content-length`), then header fields
//! separated by NUL as `name:value` (any bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::config::Config;
use meshtrace_filter::export::{ExportQueue, QueueSettings};
use meshtrace_filter::fields::{Fields, RecordedWrites};
use meshtrace_filter::ids::{RandomIds, SplitMix64};
use meshtrace_filter::node::NodeInfo;
use meshtrace_filter::otlp::Framing;
use meshtrace_filter::tracer::{Property, StreamInfo, Tracer};
use meshtrace_otlp::{Limits, Signal, validate};

struct Stream<'a>(&'a [u8]);

impl StreamInfo for Stream<'_> {
    fn property(&mut self, p: Property) -> Option<Vec<u8>> {
        let i = p as usize * 8 % 56;
        let word = self.0.get(i..i + 8)?;
        Some(match p {
            Property::SourceAddress | Property::UpstreamAddress | Property::ClusterName
            | Property::RequestProtocol | Property::ResponseCodeDetails => word.to_vec(),
            Property::ResponseCode => (u64::from(word[0]) * 4).to_le_bytes().to_vec(),
            _ => word.to_vec(),
        })
    }
    fn response_headers(&mut self) -> Fields {
        // The status and body length the span takes from them: any bytes.
        Fields::from_pairs([
            (":status", self.0.get(..3).unwrap_or_default()),
            ("content-length", self.0.get(3..12).unwrap_or_default()),
            ("content-type", self.0),
        ])
    }
    fn response_trailers(&mut self) -> Fields {
        // A gRPC call's status and message (the request's content-type decides): any bytes.
        Fields::from_pairs([
            ("grpc-status", self.0.get(12..14).unwrap_or_default()),
            ("grpc-message", self.0.get(14..40).unwrap_or_default()),
        ])
    }
    fn now_ns(&mut self) -> u64 {
        42
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 64 {
        return;
    }
    let (props, headers) = data.split_at(64);
    let mut fields: Vec<(String, Vec<u8>)> = headers
        .split(|&b| b == 0)
        .filter_map(|f| {
            let i = f.iter().position(|&b| b == b':').unwrap_or(f.len());
            let name = String::from_utf8_lossy(f.get(..i)?).into_owned();
            Some((name, f.get(i + 1..).unwrap_or_default().to_vec()))
        })
        .collect();
    // Always sampled, so a span is built.
    fields.push(("traceparent".into(), b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_vec()));
    let config = Config::from_json(
        br#"{"export": {"cluster": "c"}, "span": {"url_query": true, "routes": ["/a/{b}", "/*"],
            "request_headers": ["*"], "response_headers": ["content-type"], "tags": {"t": "v"}}}"#,
    )
    .unwrap();
    let tracer = Tracer::new(&config, &NodeInfo::default());
    let mut queue = ExportQueue::new(
        QueueSettings { batch_size: 4, max_spans: 4, when_full: config.export.as_ref().unwrap().when_full, flush_interval_ms: 50 },
        Framing::new(&[("service.name".into(), "s".into())]),
    );
    let mut ids = RandomIds::new(SplitMix64(7));
    // The clock at the headers, any value: ahead of the clock at the log or behind it.
    let start = props.get(56..64).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes);
    let outcome = tracer.on_request_headers(Fields::from_pairs(fields), &mut RecordedWrites::default(), &mut ids, Some(&mut queue), || start);
    let pending = outcome.pending.expect("sampled");
    tracer.on_log(&pending, &mut Stream(props), &mut queue);
    let out = queue.next_batch(0, true).expect("one span");
    assert_eq!(validate(Signal::Traces, out.body(), &Limits::default()), Ok(1));
});
