"""Sends spans with the real OpenTelemetry Python SDK and its OTLP exporter.

usage: send_spans.py grpc|http ENDPOINT
Prints the spans it created as JSON (ids in lowercase hex) so the test can compare them with
what the collector wrote.
"""
import json
import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

proto, endpoint = sys.argv[1], sys.argv[2]
if proto == "grpc":
    from grpc import Compression
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True, compression=Compression.Gzip)
else:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=endpoint + "/v1/traces", compression=Compression.Gzip)

provider = TracerProvider(resource=Resource.create({"service.name": f"sdk-{proto}"}))
provider.add_span_processor(BatchSpanProcessor(exporter))
tracer = provider.get_tracer("meshtrace.test", "1.0.0")

spans = []
with tracer.start_as_current_span(
    "GET /api/orders",
    kind=SpanKind.SERVER,
    attributes={"http.route": "/api/orders", "http.response.status_code": 200, "retry": False, "ratio": 0.25},
) as parent:
    spans.append(parent)
    for i in range(5):
        with tracer.start_as_current_span(f"child-{i}", kind=SpanKind.CLIENT, attributes={"i": i, "peer": "db"}) as child:
            child.add_event("query", {"rows": i * 10})
            if i == 4:
                child.set_status(Status(StatusCode.ERROR, "boom"))
            spans.append(child)

ok = provider.force_flush(30_000)
provider.shutdown()
out = []
for s in spans:
    ctx = s.get_span_context()
    out.append(
        {
            "trace_id": format(ctx.trace_id, "032x"),
            "span_id": format(ctx.span_id, "016x"),
            "parent_span_id": format(s.parent.span_id, "016x") if s.parent else "",
            "name": s.name,
            "kind": s.kind.value,
            "attributes": dict(s.attributes),
            "events": [e.name for e in s.events],
            "status": s.status.status_code.value,
        }
    )
print(json.dumps({"flushed": ok, "spans": out}))
