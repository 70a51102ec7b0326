//! Receivers: where data enters. They validate requests, count what they accept and refuse,
//! and turn downstream errors into the status codes clients understand.

pub mod cors;
pub mod otlp;
pub mod zipkin;
