"""Reports a two-span trace with py_zipkin, a Zipkin client library, through its own HTTP
transport (SimpleHTTPTransport: POST /api/v2/spans with the encoding's content type).

usage: send_zipkin.py json|proto HOST PORT
Prints what it reported as JSON (ids in lowercase hex, as sent) for the test to compare.
"""
import json
import sys

from py_zipkin import Kind
from py_zipkin.encoding import Encoding
from py_zipkin.transport import SimpleHTTPTransport
from py_zipkin.zipkin import zipkin_span

fmt, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
encoding = {"json": Encoding.V2_JSON, "proto": Encoding.V2_PROTO3}[fmt]


class Recording(SimpleHTTPTransport):
    """The library's transport, remembering whether each POST succeeded."""

    def __init__(self, host, port):
        super().__init__(host, port)
        self.sent = 0
        self.errors = []

    def send(self, payload):
        try:
            super().send(payload)
            self.sent += 1
        except Exception as e:  # noqa: BLE001 - reported to the test below
            self.errors.append(repr(e))
            raise


transport = Recording(host, port)
service = f"checkout-{fmt}"
with zipkin_span(
    service_name=service,
    span_name="POST /api/orders",
    transport_handler=transport,
    sample_rate=100.0,
    encoding=encoding,
    kind=Kind.SERVER,
    host="10.4.2.17",
    port=8080,
    # JSON with 128-bit trace ids, protobuf with py_zipkin's default 64-bit ones.
    use_128bit_trace_id=(fmt == "json"),
    binary_annotations={"http.method": "POST", "http.route": "/api/orders"},
) as root:
    root.add_annotation("validated")
    with zipkin_span(
        service_name=service,
        span_name="SELECT orders",
        kind=Kind.CLIENT,
        binary_annotations={"db.system": "postgresql", "error": "connection reset"},
    ) as child:
        child.add_sa_binary_annotation(port=5432, service_name="postgres", host="10.0.3.4")
        child_attrs = child.zipkin_attrs
    root.update_binary_annotations({"http.status_code": "201"})
    root_attrs = root.zipkin_attrs

print(
    json.dumps(
        {
            "sent": transport.sent,
            "errors": transport.errors,
            "service": service,
            "traceId": root_attrs.trace_id,
            "root": root_attrs.span_id,
            "child": child_attrs.span_id,
        }
    )
)
