//! OTLP payloads kept as protobuf bytes.
