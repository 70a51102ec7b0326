//! The sink's OTLP/gRPC `TraceService`: tonic decodes (and gunzips) every request with prost,
//! the sink counts it and answers success, or UNAVAILABLE while refusing.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use super::stats::{SinkStats, Via};

/// The gRPC service over shared counters.
#[derive(Debug, Clone)]
pub struct GrpcSink {
    stats: Arc<SinkStats>,
}

impl GrpcSink {
    /// A tonic service that accepts gzip and messages up to `max_message_bytes` (decoded).
    pub fn service(stats: Arc<SinkStats>, max_message_bytes: usize) -> TraceServiceServer<Self> {
        TraceServiceServer::new(Self { stats })
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max_message_bytes)
    }
}

#[tonic::async_trait]
impl TraceService for GrpcSink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        if let Some(left) = self.stats.refusing() {
            return Err(Status::unavailable(format!(
                "sink refusing data for another {} ms",
                left.as_millis()
            )));
        }
        self.stats.record(request.get_ref(), Via::Grpc);
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}
