//! Zipkin v2 JSON (`POST /api/v2/spans` with `Content-Type: application/json`): a JSON array
//! of spans, decoded with the rules of Zipkin's own Go model (`zipkin-go/model`), which the
//! Collector's receiver uses: hex ids, microsecond numbers, string tags, unknown keys
//! ignored, `null` entries skipped.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;

use crate::ZipkinError;
use crate::model::{Annotation, Endpoint, Kind, Span, parse_hex_u64, parse_trace_id};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    timestamp: Option<u64>,
    #[serde(default)]
    duration: Option<u64>,
    #[serde(default)]
    debug: Option<bool>,
    #[serde(default)]
    shared: Option<bool>,
    #[serde(default)]
    local_endpoint: Option<JsonEndpoint>,
    #[serde(default)]
    remote_endpoint: Option<JsonEndpoint>,
    #[serde(default)]
    annotations: Option<Vec<JsonAnnotation>>,
    #[serde(default)]
    tags: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonEndpoint {
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    ipv4: Option<String>,
    #[serde(default)]
    ipv6: Option<String>,
    #[serde(default)]
    port: Option<u16>,
}

#[derive(Deserialize)]
struct JsonAnnotation {
    #[serde(default)]
    timestamp: Option<u64>,
    #[serde(default)]
    value: Option<String>,
}

/// Decodes a JSON array of spans.
pub(crate) fn decode(body: &[u8]) -> Result<Vec<Span>, ZipkinError> {
    let spans: Option<Vec<Option<JsonSpan>>> = serde_json::from_slice(body)?;
    spans
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|s| (i, s)))
        .map(|(index, s)| convert(s).map_err(|reason| ZipkinError::Span { index, reason }))
        .collect()
}

fn convert(s: JsonSpan) -> Result<Span, String> {
    let trace = s.trace_id.unwrap_or_default();
    let trace_id =
        parse_trace_id(&trace).ok_or_else(|| format!("invalid traceId {trace:?}: want hex"))?;
    let id_text = s.id.unwrap_or_default();
    let id = match parse_hex_u64(&id_text) {
        Some(0) | None => {
            return Err(format!(
                "invalid id {id_text:?}: a non-zero hex span id is required"
            ));
        }
        Some(v) => v.to_be_bytes(),
    };
    let parent_id = match s.parent_id.as_deref() {
        None | Some("") => None,
        Some(p) => Some(
            parse_hex_u64(p)
                .ok_or_else(|| format!("invalid parentId {p:?}: want hex"))?
                .to_be_bytes(),
        ),
    };
    let annotations = s
        .annotations
        .unwrap_or_default()
        .into_iter()
        .map(|a| match a.timestamp {
            Some(t) if t >= 1 => Ok(Annotation {
                timestamp: t,
                value: a.value.unwrap_or_default(),
            }),
            _ => Err("valid annotation timestamp required".to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Span {
        trace_id,
        id,
        parent_id,
        name: s.name.unwrap_or_default(),
        kind: kind(s.kind.as_deref()),
        timestamp: s.timestamp.unwrap_or(0),
        duration: s.duration.unwrap_or(0),
        shared: s.shared.unwrap_or(false),
        debug: s.debug.unwrap_or(false),
        local_endpoint: endpoint(s.local_endpoint)?,
        remote_endpoint: endpoint(s.remote_endpoint)?,
        annotations,
        tags: s
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect(),
    })
}

fn kind(k: Option<&str>) -> Kind {
    match k {
        Some("CLIENT") => Kind::Client,
        Some("SERVER") => Kind::Server,
        Some("PRODUCER") => Kind::Producer,
        Some("CONSUMER") => Kind::Consumer,
        _ => Kind::Unspecified,
    }
}

fn ip(text: Option<String>) -> Result<Option<IpAddr>, String> {
    match text.as_deref() {
        None | Some("") => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| format!("invalid IP address {t:?}")),
    }
}

fn endpoint(e: Option<JsonEndpoint>) -> Result<Option<Endpoint>, String> {
    let Some(e) = e else { return Ok(None) };
    let ep = Endpoint {
        service_name: e.service_name.unwrap_or_default(),
        ipv4: ip(e.ipv4)?,
        ipv6: ip(e.ipv6)?,
        port: e.port.unwrap_or(0),
    };
    Ok((!ep.is_empty()).then_some(ep))
}
