//! meshtrace's OTLP collector.
